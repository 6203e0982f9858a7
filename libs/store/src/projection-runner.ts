import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { z } from "zod";
import { STREAMS, SUBJECTS } from "./catalogue.ts";
import { followLeader } from "./consumer-leader.ts";
import { backoffMs, withDeadline } from "./deadline.ts";
import { UnavailableError } from "./errors.ts";
import type { EventLog } from "./event-log.ts";
import type { KvTable } from "./kv-table.ts";
import { type Projected, type Projection, ProjectionWriter, projected } from "./projection.ts";
import type { Store } from "./store.ts";
import { getBySubject } from "./subject-get.ts";

export interface RunnerLogger {
  warn(obj: object, msg: string): void;
}

/**
 * How long an event delivered to a replica may go unacknowledged before the
 * consumer gives it to another. Every command waits for the projection, so
 * this is how long writes stall when a replica dies holding an event, or when
 * a delivery is lost in a lame-duck move (a 10 s ack wait showed up as 10 s
 * writes in the chaos suite). A slow apply keeps its event with in-progress
 * acks (`working()`) every third of it.
 */
const PROJECTION_ACK_WAIT_MS = 3_000;

/** Opens a projection's tables in the store, live (no variant) or a rebuild twin. */
export function projectionTables(store: Store, variant?: string) {
  return <T>(key: Parameters<Store["table"]>[0], schema: z.ZodType<T>): KvTable<Projected<T>> =>
    store.table(key, projected(schema) as z.ZodType<Projected<T>>, variant);
}

/**
 * Applies the event log to a projection's tables, strictly in log order, from
 * a durable checkpoint: a durable JetStream consumer shared by every replica,
 * with one message in flight cluster-wide (max_ack_pending 1). An event is
 * acked only after it is applied, so a crash between append and projection
 * (or mid-projection) redelivers it, and the sequence-guarded writes make the
 * second application a no-op.
 */
export class ProjectionRunner {
  private readonly store: Store;
  private readonly log: EventLog;
  private readonly projection: Projection;
  private readonly logger: RunnerLogger | undefined;
  private stopped = false;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;

  constructor(store: Store, log: EventLog, projection: Projection, logger?: RunnerLogger) {
    this.store = store;
    this.log = log;
    this.projection = projection;
    this.logger = logger;
  }

  private get reads() {
    return { retry: true, gate: this.store.conn.gate };
  }

  get durable(): string {
    return `proj_${this.projection.name}`;
  }

  private async ensureConsumer(): Promise<void> {
    const filter_subjects = this.projection.aggregateTypes.map((t) => SUBJECTS.aggregateType(t));
    await withDeadline("projection consumer", this.store.opTimeoutMs, async () => {
      const jsm = this.store.conn.jsm;
      const existing = await jsm.consumers.info(STREAMS.events.name, this.durable).catch(() => undefined);
      if (existing) {
        // Created by an earlier version with another ack wait or filter (`.*` before scoped ids): converge.
        const filters = existing.config.filter_subjects ?? [existing.config.filter_subject ?? ""];
        const sameFilters =
          filters.length === filter_subjects.length && filters.every((f, i) => f === filter_subjects[i]);
        if (existing.config.ack_wait !== PROJECTION_ACK_WAIT_MS * 1_000_000 || !sameFilters) {
          await jsm.consumers.update(STREAMS.events.name, this.durable, {
            ack_wait: PROJECTION_ACK_WAIT_MS * 1_000_000,
            filter_subjects,
          });
        }
        return;
      }
      await jsm.consumers.add(STREAMS.events.name, {
        durable_name: this.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subjects,
        max_ack_pending: 1,
        // A replica that dies holding an event blocks the projection until this lapses.
        ack_wait: PROJECTION_ACK_WAIT_MS * 1_000_000,
        num_replicas: 0, // inherit the stream's replicas: the checkpoint survives a node loss
      });
    });
  }

  start(): void {
    if (this.loop) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    await this.loop;
    this.loop = undefined;
  }

  /** Applies one event to the live tables (the runner's step; exported for crash tests). */
  async applyEvent(msg: JsMsg): Promise<void> {
    const event = this.log.parse(msg.json(), msg.seq);
    await this.projection.apply(event, new ProjectionWriter(event, projectionTables(this.store)));
  }

  // Survives reconnects, node restarts and a deleted consumer: whatever ends
  // the message iterator, re-attach to the durable and carry on from its checkpoint.
  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      let leader: ReturnType<typeof followLeader> | undefined;
      try {
        await this.ensureConsumer();
        const consumer = await this.store.conn.js.consumers.get(STREAMS.events.name, this.durable);
        // Short pulls: a stopped replica's outstanding pull strands at most one event, for ack_wait.
        const messages = await consumer.consume({ max_messages: 1, idle_heartbeat: 1_000, expires: 2_000 });
        this.messages = messages;
        // stop() may have run while we were attaching: it could not stop what did not exist yet.
        if (this.stopped) messages.stop();
        // A moved leader (a planned restart) keeps our pull: pull from the new one at once, not
        // after the pull's expiry (commands wait for their projection).
        leader = followLeader(this.store.conn.nc, STREAMS.events.name, this.durable, messages);
        for await (const msg of messages) {
          try {
            const holding = setInterval(() => msg.working(), PROJECTION_ACK_WAIT_MS / 3);
            try {
              await this.applyEvent(msg);
              // Not sent into a connection switch (a lost ack costs the ack wait).
              await this.store.conn.gate.pass(() => msg.ackAck({ timeout: this.store.opTimeoutMs }));
            } finally {
              clearInterval(holding);
            }
            attempt = 0;
          } catch (err) {
            this.logger?.warn({ err, seq: msg.seq, projection: this.projection.name }, "projection apply failed");
            msg.nak(1_000);
          }
          if (this.stopped) break;
        }
      } catch (err) {
        this.logger?.warn({ err, projection: this.projection.name }, "projection feed interrupted");
      } finally {
        leader?.stop();
      }
      if (!this.stopped && !leader?.moved) await new Promise((r) => setTimeout(r, backoffMs(attempt, 100, 2_000)));
    }
  }

  /** Events the projection has not applied yet (projection lag). */
  async lag(): Promise<number> {
    const info = await withDeadline(
      "projection lag",
      this.store.opTimeoutMs,
      () => this.store.conn.jsm.consumers.info(STREAMS.events.name, this.durable),
      this.reads,
    );
    return info.num_pending + info.num_ack_pending;
  }

  /** The sequence of the newest event this projection reads (0 when none). */
  async lastRelevantSeq(): Promise<number> {
    const seqs = await Promise.all(
      this.projection.aggregateTypes.map((t) =>
        withDeadline(
          "projection head",
          this.store.opTimeoutMs,
          () => getBySubject(this.store.conn.jsm, STREAMS.events.name, SUBJECTS.aggregateType(t)),
          this.reads,
        ).then((m) => m?.seq ?? 0),
      ),
    );
    return Math.max(0, ...seqs);
  }

  /** The stream sequence up to which every event of this projection is applied and acked. */
  async checkpoint(): Promise<number> {
    const info = await withDeadline(
      "projection checkpoint",
      this.store.opTimeoutMs,
      () => this.store.conn.jsm.consumers.info(STREAMS.events.name, this.durable),
      this.reads,
    );
    return info.ack_floor.stream_seq;
  }

  /**
   * Waits until the event at `seq` (default: the newest relevant event now) is
   * applied — read-your-writes after an append, and tests.
   */
  async caughtUp(seq?: number, timeoutMs = 15_000): Promise<void> {
    const target = seq ?? (await this.lastRelevantSeq());
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = await this.checkpoint().catch(() => -1);
      if (at >= target) return;
      // The event is in the log, its read model not yet: an unknown for the caller (503), not a bug (500).
      if (Date.now() > deadline) {
        throw new UnavailableError(`projection ${this.projection.name} at ${at}, not yet at ${target}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
