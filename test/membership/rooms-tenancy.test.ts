import type { KeyFile } from "@conclave/auth";
import { roomCommands, roomsProjection, userCommands } from "@conclave/membership";
import type { Host } from "@conclave/runtime";
import { compareProjection, projectionTables, rebuildProjection } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { bootstrapOperator, fakeSealedKey, identity, startMembershipHost } from "../support/membership-fixture.ts";
import { signedFetch } from "../support/signed-client.ts";

// Issue 15, items 3-5: room ids per tenant (nothing of another tenant's rooms is
// observable), room scopes checked on every route, revocation reaching rooms.

const errorOf = (body: unknown) => (body as { error?: { code?: string; reason?: string; message?: string } }).error;
const memberList = (body: unknown) => (body as { members: { member: string }[] }).members.map((m) => m.member).sort();

describe("rooms: tenancy, scopes and revocation", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  const operator = identity("operator", "local");
  const [alice, bob, carol, reader, writer] = ["alice", "bob", "carol", "reader", "writer"].map((n) => identity(n));
  const eve = identity("eve", "other");
  if (!alice || !bob || !carol || !reader || !writer) throw new Error("identities");
  const actorOp = { signPub: operator.signPublicKey, role: "operator" as const, tenant: "local" };
  const add = (k: KeyFile, scopes = ["rooms:read", "rooms:write"]) =>
    userCommands(host.ctx).add(actorOp, {
      sign_pub: k.signPublicKey,
      kex_pub: k.kexPublicKey,
      tenant: k.tenant,
      role: "member",
      scopes,
      name: k.name,
    });
  const create = (who: KeyFile, body: object) =>
    signedFetch(host.url, who, "POST", "/v1/rooms", { mode: "e2e", sealed_key: fakeSealedKey(), ...body });
  const invite = (who: KeyFile, room: string, member: KeyFile) =>
    signedFetch(host.url, who, "POST", `/v1/rooms/${room}/members`, {
      member: member.signPublicKey,
      sealed_key: fakeSealedKey(),
    });
  const removals = async (aggregate: string) =>
    (await host.ctx.log.read({ type: "room", id: aggregate })).filter((e) => e.type === "room.member_removed");

  beforeAll(async () => {
    host = await startMembershipHost(cluster());
    await bootstrapOperator(host, operator);
    for (const k of [alice, bob, carol, eve]) await add(k);
    await add(reader, ["rooms:read"]);
    await add(writer, ["rooms:write"]);
  });
  afterAll(async () => {
    await host?.close();
  });

  it("another tenant picking an existing id gets its own room: no 409, nothing learned, no subject squatted", async () => {
    expect((await create(alice, { id: "shared" })).status).toBe(201);
    const theirs = await create(eve, { id: "shared" });
    expect(theirs.status).toBe(201);
    expect(theirs.body).toMatchObject({ id: "shared", tenant: "other", subject: "conclave.room.other.shared" });
    // Each sees its own room under the same id.
    expect((await signedFetch(host.url, alice, "GET", "/v1/rooms/shared")).body).toMatchObject({ tenant: "acme" });
    expect((await signedFetch(host.url, eve, "GET", "/v1/rooms/shared")).body).toMatchObject({ tenant: "other" });
    // Within a tenant the id is taken.
    expect((await create(bob, { id: "shared" })).status).toBe(409);
    // Subjects live under the creator's tenant.
    const squat = await create(eve, { subject: "conclave.room.acme.shared.x" });
    expect(squat.status).toBe(400);
    expect(errorOf(squat.body)?.message).toContain("subject");
  });

  it("another tenant's room answers exactly like a missing one, on every route", async () => {
    const secret = ((await create(alice, {})).body as { id: string }).id;
    for (const [method, path, body] of [
      ["GET", `/v1/rooms/${secret}`],
      ["GET", `/v1/rooms/${secret}/members`],
      ["GET", `/v1/rooms/${secret}/key`],
      ["POST", `/v1/rooms/${secret}/members`, { member: eve.signPublicKey, sealed_key: fakeSealedKey() }],
      ["DELETE", `/v1/rooms/${secret}/members/${alice.signPublicKey}`],
      ["POST", `/v1/rooms/${secret}/keys`, { epoch: 2, sealed_keys: { [eve.signPublicKey]: fakeSealedKey() } }],
    ] as const) {
      const missing = path.replace(secret, "no-such-room");
      const other = await signedFetch(host.url, eve, method, path, body);
      const none = await signedFetch(host.url, eve, method, missing, body);
      expect([method, path, other.status, other.body]).toEqual([method, path, none.status, none.body]);
      expect(other.status).toBe(404);
    }
  });

  it("room scopes: rooms:read reads but cannot create (403 insufficient_scope); rooms:write cannot read", async () => {
    const denied = await create(reader, { id: "by-reader" });
    expect(denied.status).toBe(403);
    expect(errorOf(denied.body)?.reason).toBe("insufficient_scope");
    expect((await signedFetch(host.url, reader, "GET", "/v1/me/rooms")).status).toBe(200);
    expect((await create(writer, { id: "by-writer" })).status).toBe(201);
    const read = await signedFetch(host.url, writer, "GET", "/v1/rooms/by-writer");
    expect([read.status, errorOf(read.body)?.reason]).toEqual([403, "insufficient_scope"]);
    expect((await signedFetch(host.url, writer, "GET", "/v1/me/rooms")).status).toBe(403);
  });

  it("a weak key is refused where a room takes one: the invitee, the keys of a rekey (400 naming the field)", async () => {
    expect((await create(alice, { id: "weak" })).status).toBe(201);
    const identityPoint = Buffer.from([1, ...new Array(31).fill(0)]).toString("base64url");
    const weakInvite = await signedFetch(host.url, alice, "POST", "/v1/rooms/weak/members", {
      member: identityPoint,
      sealed_key: fakeSealedKey(),
    });
    expect([weakInvite.status, errorOf(weakInvite.body)?.message]).toEqual([400, expect.stringContaining("member")]);
    const weakRekey = await signedFetch(host.url, alice, "POST", "/v1/rooms/weak/keys", {
      epoch: 2,
      sealed_keys: { [alice.signPublicKey]: fakeSealedKey(), [identityPoint]: fakeSealedKey() },
    });
    expect([weakRekey.status, errorOf(weakRekey.body)?.message]).toEqual([400, expect.stringContaining("sealed_keys")]);
  });

  it("revoking a user removes it from every room: not listed, no key, rekey pending; even the owner", async () => {
    for (const id of ["rv1", "rv2"]) {
      expect((await create(alice, { id })).status).toBe(201);
      expect((await invite(alice, id, bob)).status).toBe(201);
      expect((await invite(alice, id, carol)).status).toBe(201);
    }
    expect((await create(bob, { id: "rv3" })).status).toBe(201);
    expect((await invite(bob, "rv3", carol)).status).toBe(201);
    await userCommands(host.ctx).revoke(actorOp, bob.signPublicKey);

    const keys = projectionTables(host.ctx.store)("roomKeys", z.unknown());
    await eventually(async () => {
      for (const id of ["rv1", "rv2", "rv3"]) {
        const members = await signedFetch(host.url, carol, "GET", `/v1/rooms/${id}/members`);
        expect(memberList(members.body)).not.toContain(bob.signPublicKey);
      }
    });
    for (const id of ["rv1", "rv2", "rv3"]) {
      const room = await signedFetch(host.url, carol, "GET", `/v1/rooms/${id}`);
      expect(room.body).toMatchObject({ epoch: 2, keyed_epoch: 1, rekey_pending: true });
      expect(await keys.get(`acme.${id}.1.${bob.signPublicKey}`)).toBeUndefined();
      const removed = await removals(`acme.${id}`);
      expect(removed.map((e) => [e.actor, e.data])).toEqual([
        ["system", { member: bob.signPublicKey, reason: "revoked" }],
      ]);
    }
  });

  it("the sweep is driven by the committed revocation: it converges after being down, and repeats nothing", async () => {
    const sweeper = host.ctx.projections.get("room_revocations");
    if (!sweeper) throw new Error("no sweep running");
    const dave = identity("dave");
    await add(dave);
    for (const id of ["cv1", "cv2"]) {
      await create(alice, { id });
      await invite(alice, id, dave);
    }
    // Down when the revocation commits; one room already handled by an earlier, interrupted sweep.
    await sweeper.stop();
    await userCommands(host.ctx).revoke(actorOp, dave.signPublicKey);
    await roomCommands(host.ctx).removeRevoked({ tenant: "acme", id: "cv1" }, dave.signPublicKey);
    sweeper.start();
    await eventually(async () => expect(await removals("acme.cv2")).toHaveLength(1));
    await sweeper.caughtUp();
    expect(await removals("acme.cv1")).toHaveLength(1);
    const members = await signedFetch(host.url, alice, "GET", "/v1/rooms/cv2/members");
    expect(memberList(members.body)).toEqual([alice.signPublicKey]);
  });

  it("an invite that lands after the revocation is undone", async () => {
    const frank = identity("frank");
    await add(frank);
    await create(alice, { id: "late" });
    await userCommands(host.ctx).revoke(actorOp, frank.signPublicKey);
    // Appended as a replica that read the allowlist just before the revocation would have.
    const room = (await host.ctx.log.read({ type: "room", id: "acme.late" })).at(-1);
    await host.ctx.log.append(
      { type: "room", id: "acme.late" },
      {
        type: "room.member_invited",
        data: { member: frank.signPublicKey, kex_pub: frank.kexPublicKey, role: "member", sealed_key: fakeSealedKey() },
        actor: alice.signPublicKey,
      },
      room?.seq ?? 0,
    );
    await eventually(async () => expect(await removals("acme.late")).toHaveLength(1));
  });

  it("a room stored before ids were per tenant is projected under (tenant, id); its id stays its tenant's only", async () => {
    // What the previous version appended: a bare aggregate id.
    await host.ctx.log.append(
      { type: "room", id: "oldroom" },
      {
        type: "room.created",
        data: {
          subject: "conclave.room.oldroom",
          mode: "e2e",
          tenant: "acme",
          owner: alice.signPublicKey,
          owner_kex: alice.kexPublicKey,
          sealed_key: fakeSealedKey(),
        },
        actor: alice.signPublicKey,
      },
      0,
    );
    await host.ctx.projections.get("rooms")?.caughtUp();
    const old = await signedFetch(host.url, alice, "GET", "/v1/rooms/oldroom");
    expect(old.body).toMatchObject({ id: "oldroom", tenant: "acme", subject: "conclave.room.oldroom" });
    expect((await invite(alice, "oldroom", carol)).status).toBe(201);
    expect(await host.ctx.log.read({ type: "room", id: "oldroom" })).toHaveLength(2);
    expect((await create(carol, { id: "oldroom" })).status).toBe(409);
    expect((await create(eve, { id: "oldroom" })).status).toBe(201);
    // A rebuild from the log gives the same (new) shape as the live read models.
    await rebuildProjection(host.ctx.store, host.ctx.log, roomsProjection);
    expect(await compareProjection(host.ctx.store, roomsProjection)).toEqual([]);
    const rebuilt = host.ctx.store.table("rooms", z.unknown(), "rebuild");
    expect(await rebuilt.get("acme.oldroom")).toBeDefined();
    expect(await rebuilt.get("other.oldroom")).toBeDefined();
  });

  it("before its read model is rebuilt, such a room still holds its id in its tenant (and only there)", async () => {
    const rooms = host.ctx.projections.get("rooms");
    if (!rooms) throw new Error("no rooms projection");
    // The state right after an upgrade: the room is in the log, not in the (new-shape) read model.
    await rooms.stop();
    try {
      await host.ctx.log.append(
        { type: "room", id: "unmigrated" },
        {
          type: "room.created",
          data: {
            subject: "conclave.room.unmigrated",
            mode: "e2e",
            tenant: "acme",
            owner: alice.signPublicKey,
            owner_kex: alice.kexPublicKey,
            sealed_key: fakeSealedKey(),
          },
          actor: alice.signPublicKey,
        },
        0,
      );
      const same = await create(carol, { id: "unmigrated" });
      expect([same.status, errorOf(same.body)?.message]).toEqual([409, "a room with this id already exists"]);
    } finally {
      rooms.start();
    }
    expect((await create(eve, { id: "unmigrated" })).status).toBe(201);
  });
});
