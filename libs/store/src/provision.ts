import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { BUCKETS, type BucketKey, bucketName, OBJECT_STORES, STREAMS, type StreamSpec } from "./catalogue.ts";
import type { StoreConnection } from "./connection.ts";
import { retryWhileUnavailable } from "./deadline.ts";

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

function streamConfig(spec: StreamSpec, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: spec.maxAgeMs ? ms(spec.maxAgeMs) : 0,
    max_msg_size: spec.maxMsgBytes,
    duplicate_window: ms(spec.duplicateWindowMs),
    discard: DiscardPolicy.Old,
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
): Promise<void> {
  const spec = BUCKETS[key];
  const name = bucketName(key, variant);
  await new Kvm(conn.js).create(name, {
    history: spec.history,
    replicas,
    maxValueSize: spec.maxValueBytes,
    ...("ttlMs" in spec ? { ttl: spec.ttlMs } : {}),
  });
  if ("ttlMs" in spec) await raiseMaxAge(conn, `KV_${name}`, spec.ttlMs);
}

// create() leaves an existing bucket as it was: one made by an earlier version
// keeps a max age that may now be too short (the nonce bucket's grew a clock
// margin). Raised, never lowered: a longer age only keeps claims longer.
async function raiseMaxAge(conn: StoreConnection, stream: string, ttlMs: number): Promise<void> {
  const { config } = await conn.jsm.streams.info(stream);
  if (config.max_age !== 0 && config.max_age < ms(ttlMs)) {
    await conn.jsm.streams.update(stream, { max_age: ms(ttlMs) });
  }
}

/**
 * Creates every bucket, stream and object store of the catalogue, or checks
 * that they exist. Safe to run from every replica at every start.
 */
export async function provisionStore(conn: StoreConnection, replicas: number, budgetMs = 60_000): Promise<void> {
  // Right after a cluster forms (or while a node restarts) placement of R3 assets
  // fails with "no suitable peers" (10005): retry each idempotent step.
  const step = (what: string, op: () => Promise<unknown>) => retryWhileUnavailable(what, budgetMs, 10_000, op);
  for (const key of Object.keys(BUCKETS) as BucketKey[]) {
    await step(`provision bucket ${key}`, () => provisionBucket(conn, key, replicas));
  }
  for (const spec of Object.values(STREAMS)) {
    await step(`provision stream ${spec.name}`, async () => {
      const existing = await conn.jsm.streams.info(spec.name).catch(() => undefined);
      if (!existing) await conn.jsm.streams.add(streamConfig(spec, replicas));
    });
  }
  await step("provision object store", () =>
    new Objm(conn.js).create(OBJECT_STORES.blobs.name, { replicas, storage: StorageType.File }),
  );
}
