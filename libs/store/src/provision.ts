import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import {
  ASSET_STREAMS,
  type AssetKey,
  BUCKETS,
  type BucketKey,
  type ByteLimits,
  bucketName,
  byteLimits,
  OBJECT_STORES,
  STREAMS,
  type StreamSpec,
  type WhenFull,
} from "./catalogue.ts";
import type { StoreConnection } from "./connection.ts";
import { retryWhileUnavailable } from "./deadline.ts";

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

const DISCARD: Record<WhenFull, DiscardPolicy> = { refuse_new: DiscardPolicy.New, discard_old: DiscardPolicy.Old };

function streamConfig(spec: StreamSpec, replicas: number, maxBytes: number): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: spec.maxAgeMs ? ms(spec.maxAgeMs) : 0,
    max_msg_size: spec.maxMsgBytes,
    duplicate_window: ms(spec.duplicateWindowMs),
    max_bytes: maxBytes,
    discard: DISCARD[spec.whenFull],
    deny_delete: spec.immutable,
    deny_purge: spec.immutable,
    allow_direct: false,
  };
}

/** Creates one KV bucket as the catalogue declares it (idempotent). */
export async function provisionBucket(
  conn: StoreConnection,
  key: BucketKey,
  replicas: number,
  variant?: string,
  maxBytes: number = BUCKETS[key].maxBytes,
): Promise<void> {
  const spec = BUCKETS[key];
  const name = bucketName(key, variant);
  await new Kvm(conn.js).create(name, {
    history: spec.history,
    replicas,
    maxValueSize: spec.maxValueBytes,
    max_bytes: maxBytes,
    ...("ttlMs" in spec ? { ttl: spec.ttlMs } : {}),
  });
  await convergeStream(conn, `KV_${name}`, maxBytes, "refuse_new", {
    ...("ttlMs" in spec ? { minAgeMs: spec.ttlMs } : {}),
    messageTtls: "tombstoneTtlMs" in spec || ("expiringWrites" in spec && spec.expiringWrites),
  });
}

/**
 * Brings an existing asset (created before it had a limit, or with another
 * one) to its byte limit and policy. A `refuse_new` asset is never shrunk
 * below what it holds: JetStream would drop its oldest messages to fit, and
 * those are users, events or blobs. It stays at its size (full: writes fail
 * and the storage gauge shows it) until an operator raises the limit.
 * A bucket's max age is raised to `minAgeMs`, never lowered: one made by an
 * earlier version may keep an age that is now too short (the nonce bucket's
 * grew a clock margin), and a longer age only keeps claims longer.
 * `messageTtls` turns on per-message TTLs (a bucket whose delete markers expire,
 * BucketSpec.tombstoneTtlMs, or whose writes do, BucketSpec.expiringWrites); JetStream cannot turn them off again, and nothing here asks it to.
 */
async function convergeStream(
  conn: StoreConnection,
  stream: string,
  maxBytes: number,
  whenFull: WhenFull,
  opts: { minAgeMs?: number; messageTtls?: boolean } = {},
) {
  const info = await conn.jsm.streams.info(stream);
  const wanted = whenFull === "refuse_new" ? Math.max(maxBytes, info.state.bytes) : maxBytes;
  const age = info.config.max_age;
  const { minAgeMs } = opts;
  const maxAge = minAgeMs !== undefined && age !== 0 && age < ms(minAgeMs) ? ms(minAgeMs) : age;
  const turnOnTtls = opts.messageTtls === true && info.config.allow_msg_ttl !== true;
  if (info.config.max_bytes === wanted && info.config.discard === DISCARD[whenFull] && maxAge === age && !turnOnTtls) {
    return;
  }
  await conn.jsm.streams.update(stream, {
    ...info.config,
    max_bytes: wanted,
    discard: DISCARD[whenFull],
    max_age: maxAge,
    ...(turnOnTtls ? { allow_msg_ttl: true } : {}),
  });
}

/**
 * Creates every bucket, stream and object store of the catalogue, or checks
 * that they exist. Safe to run from every replica at every start.
 */
export async function provisionStore(
  conn: StoreConnection,
  replicas: number,
  limits: ByteLimits = byteLimits(),
  budgetMs = 60_000,
): Promise<void> {
  const limit = (key: AssetKey) => limits.get(key) ?? 0;
  // Right after a cluster forms (or while a node restarts) placement of R3 assets
  // fails with "no suitable peers" (10005): retry each idempotent step.
  const step = (what: string, op: () => Promise<unknown>) => retryWhileUnavailable(what, budgetMs, 10_000, op);
  for (const key of Object.keys(BUCKETS) as BucketKey[]) {
    await step(`provision bucket ${key}`, () => provisionBucket(conn, key, replicas, undefined, limit(key)));
  }
  for (const [key, spec] of Object.entries(STREAMS) as [keyof typeof STREAMS, StreamSpec][]) {
    await step(`provision stream ${spec.name}`, async () => {
      const existing = await conn.jsm.streams.info(spec.name).catch(() => undefined);
      if (!existing) await conn.jsm.streams.add(streamConfig(spec, replicas, limit(key)));
      else await convergeStream(conn, spec.name, limit(key), spec.whenFull);
    });
  }
  const blobs = OBJECT_STORES.blobs;
  await step("provision object store", async () => {
    await new Objm(conn.js).create(blobs.name, { replicas, storage: StorageType.File, max_bytes: limit("blobs") });
    await convergeStream(conn, ASSET_STREAMS.get("blobs") as string, limit("blobs"), blobs.whenFull);
  });
}
