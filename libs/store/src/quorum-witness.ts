import { randomUUID } from "node:crypto";
import { z } from "zod";
import { boundedByDecision, outsideDecision } from "./decision-deadline.ts";
import type { KvTable } from "./kv-table.ts";

/**
 * Proof that the cluster still had a quorum AFTER a read returned.
 *
 * A leader read can be stale: a survivor that lost its peers, or a deposed
 * leader on the minority side of a partition, keeps answering with old values
 * for 13–20 s (docs/store.md). A write, however, needs a quorum. So a guarded
 * read is "leader read, then a quorum write that was issued after the read
 * returned": if the write commits, the node we talk to was part of a majority
 * after the read; if not, the decision is denied. In the signed-request
 * pipeline the nonce claim is that write; other guarded reads call confirm().
 *
 * Writes are coalesced: every caller waits for the next write that STARTED
 * after its call, so N concurrent guarded reads cost about one write, not N.
 * That next write starts when the one in flight ends, or once the one in
 * flight has run for PATIENCE_MS, whichever is first: a write stuck for its
 * whole deadline (sent during an election) must not hold every later request
 * for that long once the store answers again. Seen in the chaos soak: a
 * gateway replica served 1.9 s after raw NATS did, behind such a write.
 */
/** How long a witness write may run before the next one starts beside it (an R3 write takes 2–5 ms here). */
const PATIENCE_MS = 50;

export class QuorumWitness {
  private readonly table: KvTable<{ at: number }>;
  private readonly key: string;
  private inflight?: Promise<void>;
  private inflightSince = 0;
  private queued?: Promise<void>;
  private readonly patienceMs: number;

  constructor(table: KvTable<{ at: number }>, instance: string = randomUUID(), patienceMs = PATIENCE_MS) {
    this.table = table;
    this.key = `w.${instance}`;
    this.patienceMs = patienceMs;
  }

  static readonly schema = z.object({ at: z.number() });

  /** Resolves once a quorum write that started after this call committed; never later than the caller's decision deadline. */
  confirm(): Promise<void> {
    return boundedByDecision("witness", this.next());
  }

  private next(): Promise<void> {
    if (!this.inflight) return this.start();
    // A write already in flight started before us: it proves nothing about our read.
    if (!this.queued) {
      let timer: NodeJS.Timeout | undefined;
      const patience = new Promise<void>((r) => {
        timer = setTimeout(r, Math.max(0, this.inflightSince + this.patienceMs - Date.now()));
      });
      const after = Promise.race([this.inflight.catch(() => {}), patience]).finally(() => clearTimeout(timer));
      this.queued = after.then(() => {
        this.queued = undefined;
        return this.start();
      });
    }
    return this.queued;
  }

  private start(): Promise<void> {
    // Shared by every caller queued behind it: bounded by its own deadline, not by its first caller's decision.
    const tracked: Promise<void> = outsideDecision(() => this.table.put(this.key, { at: Date.now() })).then(() => {});
    this.inflight = tracked;
    this.inflightSince = Date.now();
    const clear = () => {
      if (this.inflight === tracked) this.inflight = undefined;
    };
    tracked.then(clear, clear);
    return tracked;
  }
}
