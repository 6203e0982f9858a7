import { membershipModule, roomCommands, roomsProjection } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import { compareProjection, ProjectionWriter, projectionTables, rebuildProjection } from "@conclave/store";
import { type NatsCluster, useCluster } from "@conclave/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { fakeSealedKey, identity, memberPrincipal, register } from "../support/membership-fixture.ts";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";
import { signedFetch } from "../support/signed-client.ts";

// Rooms on a 3-node cluster with two membership replicas (A in-process, B an OS process).

const env = (cluster: NatsCluster, host = "127.0.0.1") => ({
  ...cluster.serviceEnv("membership"),
  CONCLAVE_REPLICAS: "3",
  CONCLAVE_LOG_LEVEL: "warn",
  CONCLAVE_IP_RATE_PER_S: "100000",
  CONCLAVE_IP_BURST: "100000",
  CONCLAVE_HOST: host,
});

describe("rooms across two membership replicas", () => {
  const cluster = useCluster({ nodes: 3 });
  let a: Host;
  let b: ServiceProcess;
  const admin = identity("admin");
  const [alice, bob, carol, dave, erin] = ["alice", "bob", "carol", "dave", "erin"].map((n) => identity(n));
  const eve = identity("eve", "other");
  if (!alice || !bob || !carol || !dave || !erin) throw new Error("identities");

  beforeAll(async () => {
    a = await startHost({
      env: loadServiceEnv({ ...env(cluster()), CONCLAVE_PORT: "0" }),
      modules: [membershipModule],
    });
    await register(a, admin, [alice, bob, carol, dave, erin, eve], true);
    b = await spawnService("services/membership/src/main.ts", { ...env(cluster()), CONCLAVE_LOG_LEVEL: "info" });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.close();
  });

  it("membership decides every read: non-members get 404, a member gets only its own key", async () => {
    const created = await signedFetch(a.url, alice, "POST", "/v1/rooms", {
      id: "r1",
      mode: "e2e",
      sealed_key: fakeSealedKey(),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: "r1",
      subject: "conclave.room.acme.r1",
      epoch: 1,
      role: "owner",
      mode: "e2e",
    });
    const foreign = await signedFetch(a.url, alice, "POST", "/v1/rooms", {
      id: "r9",
      mode: "e2e",
      subject: "conclave.room.acme.r1.eavesdrop",
      sealed_key: fakeSealedKey(),
    });
    expect([foreign.status, foreign.body]).toEqual([
      400,
      { error: { code: "bad_request", message: "subject: must be conclave.room.acme.r9 or a subject below it" } },
    ]);

    for (const path of ["/v1/rooms/r1", "/v1/rooms/r1/members", "/v1/rooms/r1/key", "/v1/rooms/nope"]) {
      const res = await signedFetch(b.url, bob, "GET", path);
      expect([path, res.status]).toEqual([path, 404]);
    }
    const bobKey = fakeSealedKey();
    const invited = await signedFetch(b.url, alice, "POST", "/v1/rooms/r1/members", {
      member: bob.signPublicKey,
      sealed_key: bobKey,
    });
    expect(invited.status).toBe(201);
    const key = await signedFetch(a.url, bob, "GET", "/v1/rooms/r1/key");
    expect(key.body).toMatchObject({ epoch: 1, sealed_key: bobKey });
    const mine = await signedFetch(b.url, bob, "GET", "/v1/me/rooms");
    expect(mine.body).toEqual({
      rooms: [{ id: "r1", subject: "conclave.room.acme.r1", epoch: 1, keyed_epoch: 1, mode: "e2e", role: "member" }],
    });
    const members = await signedFetch(a.url, bob, "GET", "/v1/rooms/r1/members");
    expect((members.body as { members: { member: string }[] }).members.map((m) => m.member).sort()).toEqual(
      [alice.signPublicKey, bob.signPublicKey].sort(),
    );
  });

  it("roles are enforced on every mutation and invitees must be active users of the tenant", async () => {
    const asBob = await signedFetch(a.url, bob, "POST", "/v1/rooms/r1/members", {
      member: carol.signPublicKey,
      sealed_key: fakeSealedKey(),
    });
    expect(asBob.status).toBe(403);
    const foreign = await signedFetch(a.url, alice, "POST", "/v1/rooms/r1/members", {
      member: eve.signPublicKey,
      sealed_key: fakeSealedKey(),
    });
    expect(foreign.status).toBe(400);
    const bobRekey = await signedFetch(a.url, bob, "POST", "/v1/rooms/r1/keys", { epoch: 2, sealed_keys: {} });
    expect(bobRekey.status).toBe(403);
    const noField = await signedFetch(a.url, alice, "POST", "/v1/rooms", { mode: "e2e" });
    expect(noField.status).toBe(400);
    expect(JSON.stringify(noField.body)).toContain("sealed_key");
    const ownerSpoof = await signedFetch(a.url, alice, "POST", "/v1/rooms", {
      mode: "e2e",
      sealed_key: fakeSealedKey(),
      owner: bob.signPublicKey,
    });
    expect(ownerSpoof.status).toBe(400);
    const dup = await signedFetch(b.url, carol, "POST", "/v1/rooms", {
      id: "r1",
      mode: "e2e",
      sealed_key: fakeSealedKey(),
    });
    expect(dup.status).toBe(409);
    const badSubject = await signedFetch(b.url, carol, "POST", "/v1/rooms", {
      mode: "e2e",
      subject: "conclave.room.acme.r1",
      sealed_key: fakeSealedKey(),
    });
    expect(badSubject.status).toBe(400);
  });

  it("a removed member cannot fetch any key of a later epoch; the rekey covers exactly the members", async () => {
    const removed = await signedFetch(a.url, alice, "DELETE", `/v1/rooms/r1/members/${bob.signPublicKey}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ epoch: 2, keyed_epoch: 1, rekey_pending: true });
    expect((await signedFetch(b.url, bob, "GET", "/v1/rooms/r1/key")).status).toBe(404);
    expect((await signedFetch(b.url, bob, "GET", "/v1/rooms/r1")).status).toBe(404);

    const wrong = await signedFetch(b.url, alice, "POST", "/v1/rooms/r1/keys", {
      epoch: 2,
      sealed_keys: { [alice.signPublicKey]: fakeSealedKey(), [bob.signPublicKey]: fakeSealedKey() },
    });
    expect(wrong.status).toBe(400);
    const aliceKey = fakeSealedKey();
    const rekeyed = await signedFetch(b.url, alice, "POST", "/v1/rooms/r1/keys", {
      epoch: 2,
      sealed_keys: { [alice.signPublicKey]: aliceKey },
    });
    expect(rekeyed.status).toBe(200);
    expect((await signedFetch(a.url, alice, "GET", "/v1/rooms/r1/key")).body).toMatchObject({
      epoch: 2,
      sealed_key: aliceKey,
    });
    expect((await signedFetch(a.url, bob, "GET", "/v1/rooms/r1/key")).status).toBe(404);
  });

  it("two replicas racing: two invites both land, two rekeys to one epoch let exactly one win", async () => {
    await signedFetch(a.url, carol, "POST", "/v1/rooms", { id: "race", mode: "e2e", sealed_key: fakeSealedKey() });
    for (let round = 0; round < 3; round++) {
      const [x, y] = [identity(`x${round}`), identity(`y${round}`)];
      await register(a, admin, [x, y]);
      const invites = await Promise.all([
        signedFetch(a.url, carol, "POST", "/v1/rooms/race/members", {
          member: x.signPublicKey,
          sealed_key: fakeSealedKey(),
        }),
        signedFetch(b.url, carol, "POST", "/v1/rooms/race/members", {
          member: y.signPublicKey,
          sealed_key: fakeSealedKey(),
        }),
      ]);
      expect(invites.map((r) => r.status)).toEqual([201, 201]);
    }
    const members = await signedFetch(a.url, carol, "GET", "/v1/rooms/race/members");
    expect((members.body as { members: unknown[] }).members).toHaveLength(7);

    const room = (await signedFetch(a.url, carol, "GET", "/v1/rooms/race")).body as { epoch: number };
    const all = (members.body as { members: { member: string }[] }).members.map((m) => m.member);
    const keys = Object.fromEntries(all.map((m) => [m, fakeSealedKey()]));
    const rekeys = await Promise.all(
      [a.url, b.url].map((url) =>
        signedFetch(url, carol, "POST", "/v1/rooms/race/keys", { epoch: room.epoch + 1, sealed_keys: keys }),
      ),
    );
    expect(rekeys.map((r) => r.status).sort()).toEqual([200, 409]);
  });

  it("invite and remove racing on two replicas leave a consistent room", async () => {
    await signedFetch(a.url, dave, "POST", "/v1/rooms", { id: "race2", mode: "e2e", sealed_key: fakeSealedKey() });
    await signedFetch(a.url, dave, "POST", "/v1/rooms/race2/members", {
      member: erin.signPublicKey,
      sealed_key: fakeSealedKey(),
    });
    const results = await Promise.all([
      signedFetch(a.url, dave, "DELETE", `/v1/rooms/race2/members/${erin.signPublicKey}`),
      signedFetch(b.url, dave, "POST", "/v1/rooms/race2/members", {
        member: carol.signPublicKey,
        sealed_key: fakeSealedKey(),
      }),
    ]);
    // The invite may lose to the rekey-pending state the removal opened: 201 or 409, never a corruption.
    expect(results[0]?.status).toBe(200);
    expect([201, 409]).toContain(results[1]?.status);
    const room = (await signedFetch(b.url, dave, "GET", "/v1/rooms/race2")).body as { epoch: number; members: number };
    expect(room.epoch).toBe(2);
    expect(room.members).toBe(results[1]?.status === 201 ? 2 : 1);
  });

  it("a redelivered room event (applied again after a crash before its ack) changes nothing", async () => {
    const rooms = projectionTables(a.ctx.store)("rooms", z.unknown());
    const before = await rooms.get("acme.r1");
    for (const event of (await a.ctx.log.read({ type: "room", id: "acme.r1" })).slice(-2)) {
      await roomsProjection.apply(event, new ProjectionWriter(event, projectionTables(a.ctx.store)));
    }
    expect((await rooms.get("acme.r1"))?.value).toEqual(before?.value);
    await rebuildProjection(a.ctx.store, a.ctx.log, roomsProjection);
    expect(await compareProjection(a.ctx.store, roomsProjection)).toEqual([]);
  });

  it("cleartext rooms: allowed on loopback, refused by a replica bound to a public address", async () => {
    expect((await signedFetch(a.url, alice, "POST", "/v1/rooms", { mode: "clear" })).status).toBe(201);
    const pub = await startHost({
      env: loadServiceEnv({ ...env(cluster(), "0.0.0.0"), CONCLAVE_PORT: "0" }),
      modules: [membershipModule],
    });
    try {
      const url = pub.url.replace("0.0.0.0", "127.0.0.1");
      const res = await signedFetch(url, alice, "POST", "/v1/rooms", { mode: "clear" });
      expect(res.status).toBe(403);
    } finally {
      await pub.close();
    }
  });

  it("after a randomized workload, a rebuild of the room read models from the log equals the live state", async () => {
    const commands = roomCommands(a.ctx);
    const people = [alice, bob, carol, dave, erin].map((k) => ({
      k,
      p: memberPrincipal(k),
    }));
    const op = fc.record({
      kind: fc.constantFrom("create", "invite", "remove", "rekey"),
      room: fc.constantFrom("p1", "p2", "p3"),
      actor: fc.nat(4),
      target: fc.nat(4),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 25 }), async (ops) => {
        for (const o of ops) {
          const actor = people[o.actor]?.p;
          const target = people[o.target]?.p;
          if (!actor || !target) continue;
          const run = async () => {
            if (o.kind === "create")
              return commands.create(actor, {
                id: o.room,
                mode: "e2e",
                subject: `conclave.room.acme.${o.room}`,
                sealed_key: fakeSealedKey(),
              });
            if (o.kind === "invite")
              return commands.invite(actor, o.room, {
                member: target.signPub,
                role: "member",
                sealed_key: fakeSealedKey(),
              });
            if (o.kind === "remove") return commands.remove(actor, o.room, target.signPub);
            const room = (await a.ctx.store.table("rooms", z.any()).get(`acme.${o.room}`))?.value?.data as
              | { epoch: number; keyed_epoch: number; members: Record<string, unknown> }
              | undefined;
            if (!room) return;
            const epoch = room.keyed_epoch < room.epoch ? room.epoch : room.epoch + 1;
            return commands.rekey(actor, o.room, {
              epoch,
              sealed_keys: Object.fromEntries(Object.keys(room.members).map((m) => [m, fakeSealedKey()])),
            });
          };
          // Domain refusals (403/404/409/400) are part of the workload; store errors are not.
          await run().catch((err: Error) => {
            if (err.name !== "ApiError") throw err;
          });
        }
        await a.ctx.projections.get("rooms")?.caughtUp();
        await rebuildProjection(a.ctx.store, a.ctx.log, roomsProjection);
        expect(await compareProjection(a.ctx.store, roomsProjection)).toEqual([]);
      }),
      { numRuns: 3 },
    );
  });
});
