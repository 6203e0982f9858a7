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

// Issue 16 item 2: a command's plan is written without reading keys it knows to be new, the
// writes before the snapshot go out together, and the snapshot (the commit marker) goes last at
// the revision the command loaded. The shared runner is stopped while counting (it would add its
// own skip-read of each event at a time of its choosing) and started again after.
describe("round trips of a room command", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  let trips: RoundTrips;
  const admin = identity("admin");
  const alice = identity("alice");
  const bob = identity("bob");
  const carol = identity("carol");

  beforeAll(async () => {
    host = await startMembershipHost(cluster());
    await register(host, admin, [alice, bob, carol], true);
    // alice's tenant becomes known to the replica (the hint), as for any signer seen before.
    expect((await signedFetch(host.url, alice, "GET", `/v1/users/${alice.signPublicKey}`)).status).toBe(200);
    for (const runner of host.ctx.projections.values()) await runner.stop();
    trips = countRoundTrips(host.ctx.store.conn.nc);
  });
  afterAll(() => host?.close());

  const command = (method: "POST", path: string, body: object, status: number) =>
    trips.during(async () => {
      const res = await signedFetch(host.url, alice, method, path, body);
      if (res.status !== status) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    });
  const summary = (seen: { total: number; sequential: number; subjects: string[] }) => ({
    total: seen.total,
    sequential: seen.sequential,
    reads: seen.subjects.filter((s) => s.startsWith("$JS.API")).length,
  });

  it("a room create: allowlist read, claim, legacy-id check, snapshot read, append, two entries together, snapshot", async () => {
    const seen = await command("POST", "/v1/rooms", { id: "hall", mode: "e2e", sealed_key: fakeSealedKey() }, 201);
    expect(summary(seen)).toEqual({ total: 8, sequential: 7, reads: 3 });
  });

  it("an invite of a new member: its entries and sealed key written unread, then the snapshot", async () => {
    const seen = await command(
      "POST",
      "/v1/rooms/hall/members",
      { member: bob.signPublicKey, role: "member", sealed_key: fakeSealedKey() },
      201,
    );
    // allowlist read, claim, invitee read, snapshot read, append, member_rooms entry and sealed key together, snapshot.
    expect(summary(seen)).toEqual({ total: 8, sequential: 7, reads: 3 });
  });

  it("a member back within the marker TTL: the guesses miss, the guarded path writes them", async () => {
    await command(
      "POST",
      "/v1/rooms/hall/members",
      { member: carol.signPublicKey, role: "member", sealed_key: fakeSealedKey() },
      201,
    );
    const removed = await signedFetch(host.url, alice, "DELETE", `/v1/rooms/hall/members/${carol.signPublicKey}`);
    expect(removed.status).toBe(200);
    const rekeyed = await signedFetch(host.url, alice, "POST", "/v1/rooms/hall/keys", {
      epoch: 2,
      sealed_keys: { [alice.signPublicKey]: fakeSealedKey(), [bob.signPublicKey]: fakeSealedKey() },
    });
    expect(rekeyed.status).toBe(200);
    await command(
      "POST",
      "/v1/rooms/hall/members",
      { member: carol.signPublicKey, role: "admin", sealed_key: fakeSealedKey() },
      201,
    );
    // Read from member_rooms (the reverse index the invite wrote), not from the snapshot.
    const mine = await signedFetch(host.url, carol, "GET", "/v1/me/rooms");
    expect((mine.body as { rooms: { id: string; role: string }[] }).rooms).toEqual([
      expect.objectContaining({ id: "hall", role: "admin" }),
    ]);
  });
});
