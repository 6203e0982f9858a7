import type { Host } from "@conclave/runtime";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeSealedKey, identity, register, startMembershipHost } from "../support/membership-fixture.ts";
import { countRoundTrips, type RoundTrips } from "../support/round-trips.ts";
import { signedFetch } from "../support/signed-client.ts";

// Issue 16 item 3: a signed request runs the minimum of sequential NATS round
// trips. The route's reads go out with the allowlist read, the nonce claim
// after them witnesses all of them, and the principal is not read twice. The
// counts come from the service's own connection (round-trips.ts), not from timings.
describe("round trips of a signed request", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  let trips: RoundTrips;
  const admin = identity("admin");
  const alice = identity("alice");
  const stranger = identity("stranger");

  beforeAll(async () => {
    host = await startMembershipHost(cluster());
    await register(host, admin, [alice], true);
    const created = await signedFetch(host.url, alice, "POST", "/v1/rooms", {
      id: "lobby",
      mode: "e2e",
      sealed_key: fakeSealedKey(),
    });
    expect(created.status).toBe(201);
    // Projections applying events would add their own writes to the counts.
    await eventually(async () => {
      for (const runner of host.ctx.projections.values()) expect(await runner.lag()).toBe(0);
    });
    trips = countRoundTrips(host.ctx.store.conn.nc);
  });
  afterAll(() => host?.close());

  const get = (who: typeof alice, path: string) =>
    trips.during(async () => {
      const res = await signedFetch(host.url, who, "GET", path);
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    });

  it("a user reading itself: the allowlist read, then the claim; the entry is not read again", async () => {
    const seen = await get(alice, `/v1/users/${alice.signPublicKey}`);
    expect({ total: seen.total, sequential: seen.sequential }).toEqual({ total: 2, sequential: 2 });
  });

  it("an admin reading another user: that read goes out with the allowlist read, then the claim", async () => {
    const seen = await get(admin, `/v1/users/${alice.signPublicKey}`);
    expect({ total: seen.total, sequential: seen.sequential }).toEqual({ total: 3, sequential: 2 });
  });

  it("a room read: the room goes out with the allowlist read under the signer's known tenant, then the claim", async () => {
    // alice's tenant is known from her room creation (the hint): no read waits for the allowlist entry.
    for (const path of ["/v1/rooms/lobby", "/v1/rooms/lobby/members"]) {
      const seen = await get(alice, path);
      expect(seen.subjects.filter((s) => s.includes("conclave_witness"))).toEqual([]);
      expect({ path, total: seen.total, sequential: seen.sequential }).toEqual({ path, total: 3, sequential: 2 });
    }
  });

  it("the caller's rooms: the page's first get with the allowlist read, its end, the rooms, the claim", async () => {
    const seen = await get(alice, "/v1/me/rooms");
    expect(seen.subjects.filter((s) => s.includes("conclave_witness"))).toEqual([]);
    expect(seen.sequential).toBe(4);
  });

  it("a signer not seen before (no tenant hint): the room read waits for the allowlist entry", async () => {
    const fresh = await startMembershipHost(cluster());
    try {
      const counted = countRoundTrips(fresh.ctx.store.conn.nc);
      const seen = await counted.during(async () => {
        expect((await signedFetch(fresh.url, alice, "GET", "/v1/rooms/lobby")).status).toBe(200);
      });
      expect({ total: seen.total, sequential: seen.sequential }).toEqual({ total: 3, sequential: 3 });
    } finally {
      await fresh.close();
    }
  });

  it("an unknown signer costs one read and no claim", async () => {
    const seen = await trips.during(async () => {
      expect((await signedFetch(host.url, stranger, "GET", `/v1/users/${stranger.signPublicKey}`)).status).toBe(401);
    });
    expect({ total: seen.total, sequential: seen.sequential }).toEqual({ total: 1, sequential: 1 });
  });
});
