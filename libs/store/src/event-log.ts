import { randomUUID } from "node:crypto";
import { DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import { z } from "zod";
import { STREAMS, SUBJECTS } from "./catalogue.ts";
import type { StoreConnection } from "./connection.ts";
import { withDeadline } from "./deadline.ts";
import { ConflictError, UnavailableError } from "./errors.ts";
import { observed, type StoreObserver } from "./observer.ts";
import { orderedConsumer } from "./ordered-consumer.ts";
import { getBySubject } from "./subject-get.ts";

export interface AggregateRef {
  type: string;
  id: string;
}

/** What a command handler decides: the event before it is stored. */
export interface EventDraft {
  type: string;
  data: unknown;
  /** Who caused it: a user's sign_pub, or "system"/"bootstrap". */
  actor: string;
  /** Idempotency key; pass the same id when retrying an append whose outcome is unknown. */
  id?: string;
}

export const eventEnvelopeSchema = z.object({
  v: z.literal(1),
  id: z.string().min(1).max(64),
  type: z.string().min(1).max(64),
  aggregate: z.object({ type: z.string(), id: z.string() }),
  actor: z.string().min(1).max(128),
  at: z.iso.datetime(),
  /** The aggregate's version this event was decided on (0 = the first event). */
  prev: z.number().int().nonnegative(),
  data: z.unknown(),
});

export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

/** An event as stored: its stream sequence is the aggregate's new version. */
export interface StoredEvent extends EventEnvelope {
  seq: number;
}

/** Event type → schema of its data. Appends and reads validate against it. */
export type EventSchemas = Record<string, z.ZodType>;

/**
 * The append-only domain log on the replicated events stream. One subject per
 * aggregate; an aggregate's version is the stream sequence of its last event,
 * and appends carry it as the expected last subject sequence (optimistic
 * concurrency checked by the stream leader with quorum).
 */
export class EventLog {
  private readonly conn: StoreConnection;
  private readonly opTimeoutMs: number;
  /** Looked up by the type a stored event names: a Map, so "constructor" is no schema (issue 15). */
  private readonly schemas: ReadonlyMap<string, z.ZodType>;
  private readonly stream = STREAMS.events.name;
  private readonly now: () => Date;

  private readonly observer: StoreObserver | undefined;

  constructor(
    conn: StoreConnection,
    schemas: EventSchemas,
    opts: { opTimeoutMs: number; now?: () => Date; observer?: StoreObserver },
  ) {
    this.conn = conn;
    this.schemas = new Map(Object.entries(schemas));
    this.opTimeoutMs = opts.opTimeoutMs;
    this.now = opts.now ?? (() => new Date());
    this.observer = opts.observer;
  }

  /** Validates an envelope and its data against the event's schema. */
  parse(raw: unknown, seq: number): StoredEvent {
    const envelope = eventEnvelopeSchema.parse(raw);
    const schema = this.schemas.get(envelope.type);
    if (!schema) throw new Error(`unknown event type ${envelope.type} at seq ${seq}`);
    return { ...envelope, data: schema.parse(envelope.data), seq };
  }

  /**
   * Appends one event if the aggregate is still at `expectedVersion`
   * (0 = it must not exist yet). A concurrent writer makes this throw
   * ConflictError; the loser re-reads and decides again.
   */
  async append(aggregate: AggregateRef, draft: EventDraft, expectedVersion: number): Promise<StoredEvent> {
    const subject = SUBJECTS.aggregate(aggregate.type, aggregate.id);
    const envelope: EventEnvelope = {
      v: 1,
      id: draft.id ?? randomUUID(),
      type: draft.type,
      aggregate: { type: aggregate.type, id: aggregate.id },
      actor: draft.actor,
      at: this.now().toISOString(),
      prev: expectedVersion,
      data: draft.data,
    };
    this.parse(envelope, 0); // never store what we could not read back
    const append = () =>
      this.conn.js.publish(subject, JSON.stringify(envelope), {
        msgID: envelope.id,
        expect: { lastSubjectSequence: expectedVersion },
      });
    try {
      const ack = await observed(this.observer, "append", this.stream, () =>
        // Retried with the same msg id and expected version: applied once (see the conflict path below).
        withDeadline(`append ${subject}`, this.opTimeoutMs, append, { retry: true, gate: this.conn.gate }),
      );
      return { ...envelope, seq: ack.seq };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      // Our own attempt may have landed: an outcome-unknown write retried with the same id, or a
      // false conflict (below). If it did, it is the aggregate's first event after expectedVersion.
      const next = await this.firstEventAfter(subject, expectedVersion);
      if (next.header?.get("Nats-Msg-Id") === envelope.id) return this.parse(next.json(), next.seq);
      throw new ConflictError(`${aggregate.type}/${aggregate.id} changed since version ${expectedVersion}`, {
        cause: err,
      });
    }
  }

  /**
   * The aggregate's first event after `version`, read from the stream leader,
   * after a conflict said there is one. A read that finds none contradicts the
   * conflict: both came from a deposed leader that had not heard of the newer
   * events yet. Seen in the chaos suite right after a partition healed: the
   * stream's old leader, cut off with stale state, answered the append with
   * 10071 (and the check with its stale last message) a few milliseconds
   * before it stepped down, while the real leader stored the event; the room
   * command answered 409 for a change it had made. Such a read is retried
   * inside the deadline (the old leader steps down at its next heartbeat),
   * and ends Unavailable — outcome unknown — never a wrong Conflict.
   */
  private firstEventAfter(subject: string, version: number) {
    return withDeadline(
      `conflict check ${subject}`,
      this.opTimeoutMs,
      async () => {
        const next = await getBySubject(this.conn.jsm, this.stream, subject, version + 1);
        if (!next) throw new UnavailableError(`${subject}: a conflict at version ${version}, but no later event`);
        return next;
      },
      { retry: true, gate: this.conn.gate },
    );
  }

  private lastMessage(subject: string) {
    return withDeadline(
      `version ${subject}`,
      this.opTimeoutMs,
      () => getBySubject(this.conn.jsm, this.stream, subject),
      { retry: true, gate: this.conn.gate },
    );
  }

  /** The aggregate's current version (0 when it has no events), read from the stream leader. */
  async version(aggregate: AggregateRef): Promise<number> {
    const last = await this.lastMessage(SUBJECTS.aggregate(aggregate.type, aggregate.id));
    return last?.seq ?? 0;
  }

  /** Every event of one aggregate, in order. */
  async read(aggregate: AggregateRef): Promise<StoredEvent[]> {
    const last = await this.version(aggregate);
    const events: StoredEvent[] = [];
    if (last === 0) return events;
    for await (const e of this.scan([SUBJECTS.aggregate(aggregate.type, aggregate.id)], 1, last)) events.push(e);
    return events;
  }

  /**
   * Streams the events on `subjects` from `fromSeq` up to the newest of them
   * when called, in order, without holding them all (rebuilds).
   */
  async *replay(subjects: string[], fromSeq = 1): AsyncGenerator<StoredEvent> {
    // The newest event ON THESE SUBJECTS: waiting for the log's last sequence would stall
    // when that event belongs to another aggregate type.
    const lasts = await Promise.all(subjects.map((s) => this.lastMessage(s).then((m) => m?.seq ?? 0)));
    const until = Math.max(0, ...lasts);
    if (until >= fromSeq) yield* this.scan(subjects, fromSeq, until);
  }

  /** Reads [fromSeq, untilSeq] on subjects with an ordered consumer (ready for its first pull: orderedConsumer). */
  private async *scan(subjects: string[], fromSeq: number, untilSeq: number): AsyncGenerator<StoredEvent> {
    const consumer = await withDeadline("events consumer", this.opTimeoutMs, () =>
      orderedConsumer(this.conn.js, this.stream, {
        filter_subjects: subjects,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: fromSeq,
      }),
    );
    const messages = await consumer.consume({ idle_heartbeat: 1_000, expires: this.opTimeoutMs * 2 });
    // No message for three operation timeouts while events are still due: the store stopped answering.
    let stalled: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(stalled);
      stalled = setTimeout(() => messages.stop(new UnavailableError("event scan stalled")), this.opTimeoutMs * 3);
    };
    arm();
    let reachedEnd = false;
    try {
      for await (const m of messages as AsyncIterable<JsMsg>) {
        arm();
        if (m.seq > untilSeq) {
          reachedEnd = true;
          break;
        }
        yield this.parse(m.json(), m.seq);
        if (m.seq >= untilSeq || m.info.pending === 0) {
          reachedEnd = true;
          break;
        }
      }
    } finally {
      clearTimeout(stalled);
      messages.stop();
    }
    const closed = await messages.closed();
    // An ordered consumer outlives stop() by its inactive threshold (5 min in nats.js), and
    // nats-server 2.15 caps a stream at 1,000 consumers: at a few aggregate reads a second the
    // log would refuse new consumers ("maximum consumers limit reached", 10026). Delete it now.
    void consumer.delete().catch(() => {});
    if (!reachedEnd)
      throw new UnavailableError("event scan ended early", closed instanceof Error ? { cause: closed } : {});
  }
}
