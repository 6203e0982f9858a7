import { storageGauges } from "@conclave/runtime";
import {
  ASSET_STREAMS,
  ASSETS,
  BUCKETS,
  bucketName,
  ConflictError,
  MAX_CLOCK_SKEW_MS,
  NONCE_CLAIM_BYTES,
  NONCE_CLAIMS_PER_S,
  provisionBucket,
  STREAMS,
  Store,
  UnavailableError,
} from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { DiscardPolicy } from "@nats-io/jetstream";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const MiB = 1024 * 1024;

describe("every stream, bucket and object store is bounded in bytes (issue 15)", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;

  beforeAll(async () => {
    store = await Store.connect({
      ...cluster().connectOptions("operator"),
      name: "bounds",
      replicas: 1,
      maxBytes: new Map([["audit", 3 * MiB]]),
    });
    await store.provision();
  });
  afterAll(() => store?.close());

  it("provision gives each asset its limit and policy: nothing unbounded, audit discards old, the rest refuse new", async () => {
    expect(ASSET_STREAMS.size).toBe(Object.keys(ASSETS).length);
    for (const [asset, stream] of ASSET_STREAMS) {
      const info = await store.conn.jsm.streams.info(stream);
      const spec = ASSETS[asset];
      expect([asset, info.config.max_bytes]).toEqual([asset, asset === "audit" ? 3 * MiB : spec.maxBytes]);
      expect(info.config.max_bytes).toBeGreaterThan(0);
      expect([asset, info.config.discard]).toEqual([
        asset,
        spec.whenFull === "discard_old" ? DiscardPolicy.Old : DiscardPolicy.New,
      ]);
    }
    expect(STREAMS.audit.whenFull).toBe("discard_old");
    for (const key of ["users", "nonces"] as const) expect(BUCKETS[key].whenFull).toBe("refuse_new");
    expect(STREAMS.events.whenFull).toBe("refuse_new");
  });

  it("an asset provisioned before it had a limit gets one; one holding more than its limit is not shrunk", async () => {
    const stream = ASSET_STREAMS.get("witness") as string;
    const info = await store.conn.jsm.streams.info(stream);
    await store.conn.jsm.streams.update(stream, { ...info.config, max_bytes: -1 });
    const table = store.table("witness", z.object({ pad: z.string() }));
    for (let i = 0; i < 8; i++) await table.put(`k${i}`, { pad: "x".repeat(100) });
    const held = (await store.conn.jsm.streams.info(stream)).state.bytes;
    const provisionWith = async (bytes: number) => {
      const other = await Store.connect({
        ...cluster().connectOptions("operator"),
        name: "bounds-2",
        replicas: 1,
        maxBytes: new Map([["witness", bytes]]),
      });
      try {
        await other.provision();
      } finally {
        await other.close();
      }
      return store.conn.jsm.streams.info(stream);
    };
    // Below what it holds: kept at its size (JetStream would drop the oldest messages to fit).
    expect(held).toBeGreaterThan(1024);
    const kept = await provisionWith(1024);
    expect(kept.config.max_bytes).toBe(held);
    expect(kept.state.messages).toBe(8);
    const raised = await provisionWith(MiB);
    expect(raised.config.max_bytes).toBe(MiB);
    expect(raised.state.messages).toBe(8);
  });

  it("a full nonce bucket refuses new claims as Unavailable (deny, never a replay verdict), keeping the live ones", async () => {
    // A twin of the nonce bucket (same TTL and policy) with room for a few claims only.
    await provisionBucket(store.conn, "nonces", 1, "full", 2_048);
    const claims = store.table("nonces", z.object({ at: z.number() }), "full");
    let stored = 0;
    let refusal: unknown;
    for (let i = 0; i < 100 && refusal === undefined; i++) {
      try {
        await claims.create(`k${i.toString().padStart(3, "0")}`, { at: i });
        stored++;
      } catch (err) {
        refusal = err;
      }
    }
    expect(stored).toBeGreaterThan(0);
    expect(refusal).toBeInstanceOf(UnavailableError);
    // Nothing live was dropped to make room: a replay of the first claim is still caught.
    await expect(claims.create("k000", { at: 0 })).rejects.toBeInstanceOf(ConflictError);
    const info = await store.conn.jsm.streams.info(`KV_${bucketName("nonces", "full")}`);
    expect(info.state.messages).toBe(stored);
  });

  it("gauges report each asset's bytes and limit, so an alert can fire before it is full", async () => {
    const registry = new Registry();
    const gauges = storageGauges(registry, store);
    try {
      await gauges.refresh();
      const read = async (name: string) =>
        new Map(
          (await registry.getSingleMetric(name)?.get())?.values.map((v) => [v.labels.asset as string, v.value]) ?? [],
        );
      const limits = await read("conclave_store_limit_bytes");
      const used = await read("conclave_store_bytes");
      expect(limits.size).toBe(ASSET_STREAMS.size);
      expect(limits.get("nonces")).toBe(BUCKETS.nonces.maxBytes);
      expect(used.get("witness")).toBeGreaterThan(0);
    } finally {
      gauges.stop();
    }
  });

  it("the nonce bucket holds a whole TTL of claims at the design rate, and its max age empties it", async () => {
    const info = await store.conn.jsm.streams.info(ASSET_STREAMS.get("nonces") as string);
    expect(info.config.max_age).toBe((BUCKETS.nonces.ttlMs ?? 0) * 1_000_000);
    expect(info.config.max_age).toBeGreaterThan(0);
    const ttlS = (BUCKETS.nonces.ttlMs ?? 2 * MAX_CLOCK_SKEW_MS) / 1000;
    expect(BUCKETS.nonces.maxBytes).toBeGreaterThanOrEqual(NONCE_CLAIMS_PER_S * ttlS * NONCE_CLAIM_BYTES);
  });
});
