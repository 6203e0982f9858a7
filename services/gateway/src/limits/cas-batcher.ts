import { boundedByDecision, type KvTable, outsideDecision } from "@conclave/store";

/** Applies a batch of operations to one key's value: the new value (undefined: unchanged) and one result per op. */
export type BatchApply<S, Op, R> = (
  current: S | undefined,
  ops: readonly Op[],
) => { next: S | undefined; results: R[] };

interface Pending<Op, R> {
  op: Op;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for one hot key per tenant: operations submitted while a CAS
 * round trip is under way are applied together in the next one. Contention
 * between replicas is then one writer per replica, not one per request,
 * which is what keeps a shared budget's throughput up (docs/gateway.md).
 * `apply` may run several times for one batch (a lost CAS race re-reads):
 * it must be a pure function of the value and the ops, and ops must be
 * idempotent by their own ids.
 */
export class CasBatcher<S, Op, R> {
  private readonly table: KvTable<S>;
  private readonly apply: BatchApply<S, Op, R>;
  private readonly maxBatch: number;
  private readonly maxAttempts: number;
  private readonly queues = new Map<string, Pending<Op, R>[]>();

  constructor(table: KvTable<S>, apply: BatchApply<S, Op, R>, opts: { maxBatch?: number; maxAttempts?: number } = {}) {
    this.table = table;
    this.apply = apply;
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxAttempts = opts.maxAttempts ?? 16;
  }

  /** The op's result; a caller inside a decision waits no longer than its deadline (the op may still apply). */
  submit(key: string, op: Op): Promise<R> {
    const result = new Promise<R>((resolve, reject) => {
      const queue = this.queues.get(key);
      if (queue) {
        queue.push({ op, resolve, reject });
        return;
      }
      this.queues.set(key, [{ op, resolve, reject }]);
      // The loop serves every later submitter too: it must not run under this one's decision deadline.
      void outsideDecision(() => this.drain(key));
    });
    return boundedByDecision("batched write", result);
  }

  private async drain(key: string): Promise<void> {
    for (;;) {
      const queue = this.queues.get(key);
      if (!queue || queue.length === 0) {
        this.queues.delete(key);
        return;
      }
      const batch = queue.splice(0, this.maxBatch);
      try {
        let results: R[] = [];
        await this.table.mutate(
          key,
          (current) => {
            const out = this.apply(
              current,
              batch.map((p) => p.op),
            );
            results = out.results;
            return out.next;
          },
          this.maxAttempts,
        );
        for (const [i, p] of batch.entries()) p.resolve(results[i] as R);
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
  }
}
