import { authenticate, type NonceTable } from "@conclave/auth";
import {
  BUCKETS,
  bucketName,
  KvTable,
  MAX_CLOCK_SKEW_MS,
  NONCE_CLOCK_MARGIN_MS,
  nonceTtlMs,
  provisionBucket,
  Store,
} from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { NOW_MS, signingFixture } from "../../libs/auth/test-support/signed-request-fixture.ts";

// The nonce bucket's max age is a limit like any other: crossed here. A claim
// is forgotten once its entry ages out, so a byte-identical replay would pass
// the nonce check; what stops it then is the clock window of the replica that
// sees it. Buckets with ages of seconds stand in for the real one (90 s) so
// the tests do not wait minutes; the replicas' clocks are injected.

const claim = z.object({ at: z.number() });
const reasonOf = (p: Promise<unknown>) =>
  p.then(
    () => "accepted",
    (err: { reason?: string }) => err.reason ?? String(err),
  );

describe("nonce claims across the bucket's max age", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  const bucket = async (name: string, ttlMs: number): Promise<KvTable<{ at: number }>> => {
    await new Kvm(store.conn.js).create(name, { history: 1, ttl: ttlMs });
    return new KvTable(name, claim, { conn: store.conn, opTimeoutMs: 2_000 });
  };

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "nonce-ttl", replicas: 1 });
  });
  afterAll(() => store?.close());

  it("the real bucket keeps a claim for the whole acceptance window plus the clock margin", () => {
    expect(signingFixture().policy.maxSkewSeconds * 1000).toBe(MAX_CLOCK_SKEW_MS);
    expect(BUCKETS.nonces.ttlMs).toBe(2 * MAX_CLOCK_SKEW_MS + NONCE_CLOCK_MARGIN_MS);
    expect(BUCKETS.nonces.ttlMs).toBe(90_000);
  });

  it("a replay is refused while the claim lives, passes the nonce check once it aged out, and the clock window still refuses it", async () => {
    const nonces = await bucket("test_nonces_short", 1_000);
    let now = NOW_MS;
    const f = signingFixture(NOW_MS);
    const principal = f.principal();
    const deps = {
      policy: { ...f.policy, now: () => now },
      keyCache: f.deps.keyCache,
      lookupUser: async (signPub: string) => (signPub === f.keyid ? principal : undefined),
      nonces,
    };
    const request = f.signed({ method: "GET", url: "/v1/me/rooms" });

    expect(await reasonOf(authenticate(request, deps))).toBe("accepted");
    expect(await reasonOf(authenticate(request, deps))).toBe("replay");

    // Cross the max age: the entry goes, and with it the nonce check's memory.
    await eventually(async () => expect(await nonces.keys()).toEqual([]), 10_000, 100);
    // Inside the clock window, a bucket whose TTL is shorter than the window lets the replay through.
    now = NOW_MS + 5_000;
    expect(await reasonOf(authenticate(request, deps))).toBe("accepted");
    // Past the window the clock refuses it.
    now = NOW_MS + MAX_CLOCK_SKEW_MS + 1_000;
    expect(await reasonOf(authenticate(request, deps))).toMatch(/expired|created/);
  });

  it("a replica whose clock runs behind refuses a replay after a 2 × skew claim expired, thanks to the margin", async () => {
    // Scaled down: skew 2 s, margin 5 s, a replica B lagging behind A by up to the margin.
    const skewMs = 2_000;
    const marginMs = 5_000;
    const withoutMargin = await bucket("test_nonces_no_margin", 2 * skewMs);
    const withMargin = await bucket("test_nonces_margin", nonceTtlMs(skewMs, marginMs));

    const f = signingFixture(NOW_MS);
    const principal = f.principal();
    const replica = (clock: () => number, nonces: NonceTable) => ({
      policy: { ...f.policy, maxSkewSeconds: skewMs / 1000, now: clock },
      keyCache: f.deps.keyCache,
      lookupUser: async (signPub: string) => (signPub === f.keyid ? principal : undefined),
      nonces,
    });
    const clockA = () => Date.now();
    // Signed at the front edge of A's window: `created` as far ahead as A allows.
    const created = Math.floor(Date.now() / 1000) + skewMs / 1000;
    // B's clock stands at the end of its window for `created` (it still takes it): B lags A by
    // however long the claim took to expire, which the test checks is within the margin. (A fixed
    // lag made the window depend on how late JetStream expired the claim: flaky under load.)
    const clockB = () => created * 1000 + skewMs - 100;
    const request = f.signed({ method: "GET", url: "/v1/me/rooms", created });

    expect(await reasonOf(authenticate(request, replica(clockA, withoutMargin)))).toBe("accepted");
    expect(await reasonOf(authenticate(request, replica(clockA, withMargin)))).toBe("accepted");

    // The 2 × skew claim ages out while `created` is still inside B's window (B sees it until created + skew + lag).
    await eventually(async () => expect(await withoutMargin.keys()).toEqual([]), 10_000, 50);
    expect(Date.now() - clockB()).toBeLessThanOrEqual(marginMs);
    // Without a margin B takes the replay: the defect.
    expect(await reasonOf(authenticate(request, replica(clockB, withoutMargin)))).toBe("accepted");
    // With one, the claim is still there: B refuses it.
    expect(await reasonOf(authenticate(request, replica(clockB, withMargin)))).toBe("replay");
  });

  it("provisioning raises the max age of a nonce bucket made by an earlier version (60 s) to the new one", async () => {
    const name = bucketName("nonces", "upgrade");
    await new Kvm(store.conn.js).create(name, { history: 1, ttl: 2 * MAX_CLOCK_SKEW_MS });
    await provisionBucket(store.conn, "nonces", 1, "upgrade");
    const { config } = await store.conn.jsm.streams.info(`KV_${name}`);
    expect(config.max_age).toBe(BUCKETS.nonces.ttlMs * 1_000_000);
  });
});
