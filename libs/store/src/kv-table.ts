import { randomUUID } from "node:crypto";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { nanos, headers as natsHeaders } from "@nats-io/nats-core";
import type { ZodType } from "zod";
import type { BucketSpec } from "./catalogue.ts";
import type { StoreConnection } from "./connection.ts";
import { backoffMs, withDeadline } from "./deadline.ts";
import { DecodeMemo } from "./decode-memo.ts";
import { ConflictError, NotFoundError, UnavailableError } from "./errors.ts";
import { observed, type StoreObserver } from "./observer.ts";
import { watchFirstPull } from "./ordered-consumer.ts";
import { getBySubject } from "./subject-get.ts";

export interface Entry<T> {
  value: T;
  /** The KV revision (stream sequence) of this value: pass it back to update. */
  revision: number;
}

/**
 * A page of live keys in stream order. `more` when messages follow; `last` is where the next
 * page starts after: the last message looked at, a live key or a delete marker stepped over.
 */
export interface KeyPage {
  keys: { key: string; seq: number }[];
  more: boolean;
  last?: { key: string; seq: number };
}

/** What a table needs to know of its bucket's shape (catalogue): revisions per key, delete markers' lifetime. */
export interface BucketShape {
  history: number;
  tombstoneTtlMs?: number;
}

/** A key's last write as stored: its value, or a delete marker and the headers it carries. */
export type LastWrite<T> =
  | { revision: number; deleted: false; value: T }
  | { revision: number; deleted: true; header(name: string): string | undefined };

export interface WriteOptions {
  /**
   * Idempotency key (Nats-Msg-Id). Retrying a write whose outcome is unknown
   * with the same id never applies it twice. Random by default.
   */
  msgId?: string;
  /**
   * The value's own lifetime (Nats-TTL, whole seconds, rounded up): it leaves the stream after
   * it. Only in a bucket made with per-message TTLs (BucketSpec.expiringWrites).
   */
  ttlMs?: number;
}

export interface TableDeps {
  conn: StoreConnection;
  opTimeoutMs: number;
  /** Metrics: operation latencies and outcomes, CAS retries. */
  observer?: StoreObserver;
}

// KV keys: what NATS allows in a key, dots as hierarchy separators.
const KEY = /^[-/_=.a-zA-Z0-9]{1,512}$/;
const OPERATION = "KV-Operation";
// A listing's consumer left behind (its reader gone mid-way) goes away by itself after this.
const LISTING_INACTIVE_MS = 10_000;

/**
 * A typed, fail-closed view of one KV bucket. Values are zod-validated JSON.
 * Reads always go to the stream leader (message get), never to a direct get
 * that any replica — including a stale one — may answer. Writes publish to the
 * bucket's subject with expected-revision checks and a Nats-Msg-Id.
 */
export class KvTable<T> {
  readonly bucket: string;
  private readonly stream: string;
  private readonly deps: TableDeps;
  private readonly schema: ZodType<T>;
  /** The bucket's shape, when known (catalogue): paging in stream order needs history 1. */
  private readonly shape: BucketShape | undefined;
  /** Set by `memoized`: decoded values of recent reads, reused for identical bytes. */
  private memo: DecodeMemo<T> | undefined;

  constructor(bucket: string, schema: ZodType<T>, deps: TableDeps, shape?: BucketShape) {
    this.bucket = bucket;
    this.shape = shape;
    this.stream = `KV_${bucket}`;
    this.schema = schema;
    this.deps = deps;
  }

  static forSpec<T>(spec: BucketSpec, schema: ZodType<T>, deps: TableDeps, name = spec.name): KvTable<T> {
    return new KvTable(name, schema, deps, spec);
  }

  /**
   * This table, decoding identical stored bytes of a key only once (DecodeMemo,
   * at most `keys` keys): for a table read on every request. Every read still
   * goes to the leader; values it returns are frozen.
   */
  memoized(keys: number): KvTable<T> {
    const table = new KvTable(this.bucket, this.schema, this.deps, this.shape);
    table.memo = new DecodeMemo(keys);
    return table;
  }

  /** Reads, and writes that carry their msg id: retried within the deadline, held during a lame-duck move. */
  private get idempotent() {
    return { retry: true, gate: this.deps.conn.gate };
  }

  private subject(key: string): string {
    if (!KEY.test(key)) throw new Error(`invalid KV key for ${this.bucket}: ${JSON.stringify(key)}`);
    return `$KV.${this.bucket}.${key}`;
  }

  private encode(value: T): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.schema.parse(value)));
  }

  private decode(data: Uint8Array, key: string): T {
    return this.memo ? this.memo.decode(key, data, (d) => this.parse(d, key)) : this.parse(data, key);
  }

  private parse(data: Uint8Array, key: string): T {
    const parsed = this.schema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    // A value we cannot read is not a value we can decide on.
    if (!parsed.success) throw new UnavailableError(`${this.bucket}/${key}: stored value fails its schema`);
    return parsed.data;
  }

  /**
   * The key's last message, from the stream leader. With `newerThan`, a read
   * that shows nothing newer than that revision is treated as stale and
   * retried inside the deadline, then Unavailable (see `ownedRevision`).
   */
  private async last(key: string, newerThan?: number) {
    const subject = this.subject(key);
    return observed(this.deps.observer, "get", this.bucket, () =>
      withDeadline(
        `get ${this.bucket}`,
        this.deps.opTimeoutMs,
        async () => {
          const msg = await getBySubject(this.deps.conn.jsm, this.stream, subject);
          if (newerThan !== undefined && (msg?.seq ?? 0) <= newerThan) {
            throw new UnavailableError(
              `${this.bucket}/${key}: a conflict at revision ${newerThan}, but no later write`,
            );
          }
          return msg;
        },
        this.idempotent,
      ),
    );
  }

  /** Leader read of the current value; undefined when absent or deleted. */
  async get(key: string): Promise<Entry<T> | undefined> {
    const msg = await this.last(key);
    if (!msg || msg.header?.get(OPERATION)) return undefined;
    return { value: this.decode(msg.data, key), revision: msg.seq };
  }

  /** Leader read of the key's last write, delete markers included (undefined: never written or aged out). */
  async lastWrite(key: string): Promise<LastWrite<T> | undefined> {
    const msg = await this.last(key);
    if (!msg) return undefined;
    if (msg.header?.get(OPERATION)) {
      const headers = msg.header;
      return { revision: msg.seq, deleted: true, header: (name) => headers.get(name) || undefined };
    }
    return { revision: msg.seq, deleted: false, value: this.decode(msg.data, key) };
  }

  /**
   * Every live key (optionally under a dot-separated filter such as `room1.>`),
   * for listings and rebuilds. An ephemeral consumer of our own (last message
   * per subject, headers only, R1 in memory, no acks), deleted when done: the
   * library's `kv.keys()` left one behind per call, and a busy listing route
   * reached the stream's consumer limit within seconds (10026, chaos soak).
   * Created explicitly, not as the client's ordered consumer: on a fresh R3
   * cluster 6–9 of 300 ordered-consumer listings delivered nothing at all
   * until cut by the attempt timer (3.3 s, then retried), 0 of 600 this way
   * (docs/store.md). The create answers the pending count itself.
   */
  async keys(filter = ">"): Promise<string[]> {
    const prefix = `$KV.${this.bucket}.`;
    const { jsm, js } = this.deps.conn;
    return withDeadline(
      `keys ${this.bucket}`,
      this.deps.opTimeoutMs * 5,
      async () => {
        const info = await jsm.consumers.add(this.stream, {
          filter_subjects: [`${prefix}${filter}`],
          deliver_policy: DeliverPolicy.LastPerSubject,
          headers_only: true,
          ack_policy: AckPolicy.None,
          mem_storage: true,
          num_replicas: 1,
          inactive_threshold: nanos(LISTING_INACTIVE_MS),
        });
        try {
          const out: string[] = [];
          if (info.num_pending === 0) return out;
          const consumer = await js.consumers.get(this.stream, info.name);
          const messages = await consumer.consume({ max_messages: 512 });
          // A pull answered "no responders" (ordered-consumer.ts) ends this attempt at once, and
          // the deadline's retry lists with a new consumer, instead of waiting for heartbeats.
          const firstPull = watchFirstPull(messages);
          void firstPull.refused.catch((err: unknown) => messages.stop(err as Error));
          try {
            for await (const m of messages) {
              if (!m.headers?.get(OPERATION)) out.push(m.subject.slice(prefix.length));
              if (m.info.pending === 0) break;
            }
          } finally {
            firstPull.stop();
          }
          return out.sort();
        } finally {
          void jsm.consumers.delete(this.stream, info.name).catch(() => {});
        }
      },
      this.idempotent,
    );
  }

  /**
   * Keys under a filter that have any message left, deleted ones included
   * (read each to know), from the stream leader's subject index: one request
   * and no consumer, so a hot path (the auth callout, once per connect) can
   * afford it where `keys()` could not.
   */
  async keysWithHistory(filter: string): Promise<string[]> {
    const prefix = `$KV.${this.bucket}.`;
    return observed(this.deps.observer, "keys", this.bucket, () =>
      withDeadline(
        `subjects ${this.bucket}`,
        this.deps.opTimeoutMs,
        async () => {
          const info = await this.deps.conn.jsm.streams.info(this.stream, { subjects_filter: `${prefix}${filter}` });
          return Object.keys(info.state.subjects ?? {})
            .map((subject) => subject.slice(prefix.length))
            .sort();
        },
        this.idempotent,
      ),
    );
  }

  /**
   * One page of live keys under a filter, in stream order, after stream
   * sequence `afterSeq`: for buckets of history 1, where every key has one
   * message, so each appears once. One leader STREAM.MSG.GET (`next_by_subj`,
   * the server's subject index) per message looked at, at most `limit` of them,
   * plus one to tell whether more follow: O(page) requests whatever the bucket,
   * the filter's share of it or its deleted keys hold (docs/store.md,
   * "Listings"). A delete marker is stepped over, not returned, but counts
   * against the page: a page after many deletions may hold fewer keys (none,
   * even) and still say `more`.
   */
  async pageBySequence(filter: string, afterSeq: number, limit: number): Promise<KeyPage> {
    // With older revisions kept, a key would come once per revision.
    if (this.shape?.history !== 1) {
      throw new Error(`${this.bucket}: paging in stream order needs a bucket of history 1`);
    }
    const subject = `$KV.${this.bucket}.${filter}`;
    const prefix = `$KV.${this.bucket}.`;
    const keys: KeyPage["keys"] = [];
    let last: KeyPage["last"];
    for (let looked = 0; ; looked++) {
      const from = (last?.seq ?? afterSeq) + 1;
      const msg = await observed(this.deps.observer, "get", this.bucket, () =>
        withDeadline(
          `page ${this.bucket}`,
          this.deps.opTimeoutMs,
          () => getBySubject(this.deps.conn.jsm, this.stream, subject, from),
          this.idempotent,
        ),
      );
      if (!msg) return { keys, more: false, ...(last ? { last } : {}) };
      // The one read past the page only tells that more follow.
      if (looked === limit) return { keys, more: true, ...(last ? { last } : {}) };
      last = { key: msg.subject.slice(prefix.length), seq: msg.seq };
      if (!msg.header?.get(OPERATION)) keys.push(last);
    }
  }

  /** Like get, but absence is a NotFoundError. */
  async require(key: string): Promise<Entry<T>> {
    const entry = await this.get(key);
    if (!entry) throw new NotFoundError(`${this.bucket}/${key} not found`);
    return entry;
  }

  /** Publishes to the key's subject; `expected` undefined = unconditional. */
  private async publish(
    key: string,
    data: Uint8Array,
    expected: number | undefined,
    msgId: string,
    op?: "DEL" | "PURGE",
    extra: Record<string, string> = {},
  ): Promise<number> {
    const hdrs = op || Object.keys(extra).length > 0 ? natsHeaders() : undefined;
    if (hdrs && op) hdrs.set(OPERATION, op);
    for (const [name, value] of Object.entries(extra)) hdrs?.set(name, value);
    const ack = await observed(this.deps.observer, "write", this.bucket, () =>
      // Idempotent: a retry carries the same msg id (deduplicated, or recognised on a conflict).
      withDeadline(
        `write ${this.bucket}`,
        this.deps.opTimeoutMs,
        () =>
          this.deps.conn.js.publish(this.subject(key), data, {
            msgID: msgId,
            ...(expected === undefined ? {} : { expect: { lastSubjectSequence: expected } }),
            ...(hdrs ? { headers: hdrs } : {}),
          }),
        this.idempotent,
      ),
    );
    return ack.seq;
  }

  /** Unconditional write (last writer wins). Returns the revision. */
  put(key: string, value: T, opts: WriteOptions = {}): Promise<number> {
    const expiring: Record<string, string> =
      opts.ttlMs === undefined ? {} : { "Nats-TTL": `${Math.ceil(opts.ttlMs / 1000)}s` };
    return this.publish(key, this.encode(value), undefined, opts.msgId ?? randomUUID(), undefined, expiring);
  }

  /**
   * On a conflict, tells whether the key's last write is our own earlier
   * attempt (an outcome-unknown write that did apply). Clustered streams answer
   * a retried msg id as a duplicate; a single node checks the revision first.
   * A read that shows the key still at `expected` contradicts the conflict:
   * both came from a deposed leader with stale state (event-log.ts,
   * `firstEventAfter`), so it is retried inside the deadline and ends
   * Unavailable rather than a wrong Conflict.
   */
  private async ownedRevision(key: string, msgId: string, expected: number): Promise<number | undefined> {
    const msg = await this.last(key, expected);
    return msg?.header?.get("Nats-Msg-Id") === msgId ? msg.seq : undefined;
  }

  /** Atomic create: Conflict when the key exists. Returns the revision. */
  async create(key: string, value: T, opts: WriteOptions = {}): Promise<number> {
    const msgId = opts.msgId ?? randomUUID();
    const data = this.encode(value);
    try {
      return await this.publish(key, data, 0, msgId);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      const owned = await this.ownedRevision(key, msgId, 0);
      if (owned !== undefined) return owned;
      // A deleted key may be created again: expect the tombstone's revision.
      const msg = await this.last(key);
      if (msg?.header?.get(OPERATION)) return this.publish(key, data, msg.seq, msgId);
      throw new ConflictError(`${this.bucket}/${key} already exists`, { cause: err });
    }
  }

  /** CAS update: Conflict unless the key is still at `revision`. */
  async update(key: string, value: T, revision: number, opts: WriteOptions = {}): Promise<number> {
    const msgId = opts.msgId ?? randomUUID();
    try {
      return await this.publish(key, this.encode(value), revision, msgId);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      const owned = await this.ownedRevision(key, msgId, revision);
      if (owned !== undefined) return owned;
      throw err;
    }
  }

  /**
   * Deletes (tombstones) a key, optionally only at `revision` (0: only if never written). `headers`
   * ride on the delete marker, which readers of the bucket still see as a plain KV delete. In a
   * bucket whose markers expire (BucketShape.tombstoneTtlMs) the marker is a purge (it rolls up
   * the key's older revisions, which would otherwise become its value again once the marker
   * goes) carrying its message TTL: after it the key leaves the stream altogether.
   */
  async delete(
    key: string,
    opts: WriteOptions & { revision?: number; headers?: Record<string, string> } = {},
  ): Promise<void> {
    const ttlMs = this.shape?.tombstoneTtlMs;
    const expiring: Record<string, string> =
      ttlMs === undefined ? {} : { "Nats-Rollup": "sub", "Nats-TTL": `${Math.ceil(ttlMs / 1000)}s` };
    const op = ttlMs === undefined ? "DEL" : "PURGE";
    await this.publish(key, new Uint8Array(), opts.revision, opts.msgId ?? randomUUID(), op, {
      ...opts.headers,
      ...expiring,
    });
  }

  /**
   * Read-modify-write with CAS, retried with jittered backoff when another
   * writer wins. `fn` returns the new value, or undefined to leave the key as
   * it is. `fn` must be idempotent (e.g. check an operation id already in the
   * value): after an outcome-unknown write it runs again on what was stored.
   *
   * `known`: the entry as this process last wrote or read it. The first attempt
   * writes on it without reading (one round trip instead of two): the CAS on its
   * revision is the proof that it is still current, and a Conflict (someone
   * wrote since) falls back to a leader read, without backoff. A decision to
   * write nothing is never taken on it: that one is taken again on a fresh read.
   */
  async mutate(
    key: string,
    fn: (current: T | undefined) => T | undefined,
    maxAttempts = 8,
    known?: Entry<T>,
  ): Promise<Entry<T> | undefined> {
    if (known) {
      const next = fn(known.value);
      if (next !== undefined) {
        try {
          return { value: next, revision: await this.update(key, next, known.revision) };
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    }
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const current = await this.get(key);
      const next = fn(current?.value);
      if (next === undefined) return current;
      try {
        const revision = current ? await this.update(key, next, current.revision) : await this.create(key, next);
        return { value: next, revision };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        this.deps.observer?.casRetry(this.bucket);
        await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      }
    }
    throw new ConflictError(`${this.bucket}/${key}: still contended after ${maxAttempts} attempts`);
  }
}
