import { authenticate } from "@conclave/auth";
import { BUCKETS, KvTable, MAX_CLOCK_SKEW_MS, Store } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { NOW_MS, signingFixture } from "../../libs/auth/test-support/signed-request-fixture.ts";

// The nonce bucket's max age is a limit like any other: crossed here. A claim
// is forgotten once its entry ages out, so a byte-identical replay would pass
// the nonce check; what stops it is the clock window, which is why the TTL
// equals the whole window (2 × skew, docs/auth.md). A bucket with a 1 s max age
// stands in for the real 60 s one so the test does not wait a minute.

const SHORT_TTL_MS = 1_000;

describe("nonce claims across the bucket's max age", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  let nonces: KvTable<{ at: number }>;

  beforeAll(async () => {
    store = await Store.connect({ servers: cluster().urls, name: "nonce-ttl", replicas: 1 });
    await new Kvm(store.conn.js).create("test_nonces_short", { history: 1, ttl: SHORT_TTL_MS });
    nonces = new KvTable("test_nonces_short", z.object({ at: z.number() }), {
      conn: store.conn,
      opTimeoutMs: 2_000,
    });
  });
  afterAll(() => store?.close());

  it("the real bucket keeps a claim for the whole acceptance window (2 × skew)", () => {
    expect(BUCKETS.nonces.ttlMs).toBe(2 * MAX_CLOCK_SKEW_MS);
    expect(signingFixture().policy.maxSkewSeconds * 1000).toBe(MAX_CLOCK_SKEW_MS);
  });

  it("a replay is refused while the claim lives, passes the nonce check once it aged out, and the clock window still refuses it", async () => {
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
    const reasonOf = (p: Promise<unknown>) =>
      p.then(
        () => "accepted",
        (err: { reason?: string }) => err.reason ?? String(err),
      );

    expect(await reasonOf(authenticate(request, deps))).toBe("accepted");
    expect(await reasonOf(authenticate(request, deps))).toBe("replay");

    // Cross the max age: the entry goes, and with it the nonce check's memory.
    await eventually(async () => expect(await nonces.keys()).toEqual([]), 10_000, 100);
    // Inside the clock window, a bucket whose TTL is shorter than the window lets the replay through:
    // the failure the 2 × skew rule exists to prevent.
    now = NOW_MS + 5_000;
    expect(await reasonOf(authenticate(request, deps))).toBe("accepted");
    // With the real TTL the entry lives until the window has closed, and past it the clock refuses.
    now = NOW_MS + MAX_CLOCK_SKEW_MS + 1_000;
    expect(await reasonOf(authenticate(request, deps))).toMatch(/expired|created/);
  });
});
