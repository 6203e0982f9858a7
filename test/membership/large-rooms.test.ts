import { ConclaveClient, type ConclaveError, newRoomKey, openRoomKey, sealRoomKey } from "@conclave/client";
import { roomCommands } from "@conclave/membership";
import type { Host } from "@conclave/runtime";
import { toPrincipal } from "@conclave/runtime";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register, startMembershipHost } from "../support/membership-fixture.ts";

// Issue 18 item 3: a room of 1,000 members works end to end (invite, list its members page by
// page, rekey with a sealed key for each, every member opens its own) and the 1,025th member is
// refused (the bound, services/membership/src/rooms/room-decider.ts: MAX_ROOM_MEMBERS).

const MEMBERS = 1_000;
const BOUND = 1_024;

describe(`a room of ${MEMBERS} members`, () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  const admin = identity("admin");
  const owner = identity("owner");
  const members = Array.from({ length: BOUND }, (_, i) => identity(`m${i}`));
  const late = identity("late");
  const key = newRoomKey();

  beforeAll(async () => {
    host = await startMembershipHost(cluster());
    await register(host, admin, [owner], true);
    const chunks = Array.from({ length: 16 }, (_, i) => [...members, late].filter((_, j) => j % 16 === i));
    await Promise.all(chunks.map((chunk) => register(host, admin, chunk)));
  }, 120_000);
  afterAll(async () => {
    await host?.close();
  });

  it("invites, lists every member once across pages, rekeys for all of them; each opens its key", async () => {
    const client = new ConclaveClient({ url: host.url, identity: owner });
    await client.createRoom({ id: "big", mode: "e2e", sealed_key: sealRoomKey(key, owner.kexPublicKey) });
    // Invites to one room are serialized by its version: one after the other, through the commands.
    const commands = roomCommands(host.ctx);
    const actor = toPrincipal({
      sign_pub: owner.signPublicKey,
      kex_pub: owner.kexPublicKey,
      tenant: owner.tenant,
      role: "member",
      scopes: ["rooms:read", "rooms:write"],
      status: "active",
      created_at: new Date().toISOString(),
    });
    let started = performance.now();
    for (const m of members.slice(0, MEMBERS - 2)) {
      await commands.invite(actor, "big", {
        member: m.signPublicKey,
        role: "member",
        sealed_key: sealRoomKey(key, m.kexPublicKey),
      });
    }
    // The last one through the route, as a client does it.
    const last = members[MEMBERS - 2];
    if (!last) throw new Error("members");
    const view = await client.invite("big", {
      member: last.signPublicKey,
      sealed_key: sealRoomKey(key, last.kexPublicKey),
    });
    expect(view.members).toBe(MEMBERS);
    console.log(`${MEMBERS - 1} invites into one room: ${(performance.now() - started).toFixed(0)} ms`);

    const pages = [];
    for await (const page of client.membersPages("big", { limit: 100 })) pages.push(page.items);
    expect(pages).toHaveLength(MEMBERS / 100);
    const listed = pages.flat().map((m) => m.member);
    expect(new Set(listed).size).toBe(MEMBERS);
    expect(listed).toContain(owner.signPublicKey);

    const next = newRoomKey();
    const kex = new Map([owner, ...members].map((m) => [m.signPublicKey, m.kexPublicKey]));
    const sealed = Object.fromEntries(listed.map((m) => [m, sealRoomKey(next, kex.get(m) as string)]));
    started = performance.now();
    const rekeyed = await client.rekey("big", 2, sealed);
    console.log(
      `rekey of ${MEMBERS} members (${JSON.stringify(sealed).length} B of sealed keys): ${(performance.now() - started).toFixed(0)} ms`,
    );
    expect([rekeyed.epoch, rekeyed.keyed_epoch, rekeyed.members]).toEqual([2, 2, MEMBERS]);
    for (const m of [members[0], last]) {
      if (!m) throw new Error("members");
      const mine = await new ConclaveClient({ url: host.url, identity: m }).myKey("big");
      expect(mine.epoch).toBe(2);
      expect(openRoomKey(mine.sealed_key, m.kexSecretKey)).toEqual(next);
    }
  }, 180_000);

  it(`takes members up to ${BOUND} and refuses one more with 409 too_many_members`, async () => {
    const client = new ConclaveClient({ url: host.url, identity: owner });
    const room = await client.getRoom("big");
    const current = await client.myKey("big");
    const roomKey = openRoomKey(current.sealed_key, owner.kexSecretKey);
    for (const m of members.slice(room.members - 1, BOUND - 1)) {
      await client.invite("big", { member: m.signPublicKey, sealed_key: sealRoomKey(roomKey, m.kexPublicKey) });
    }
    expect((await client.getRoom("big")).members).toBe(BOUND);
    const refused = await client
      .invite("big", { member: late.signPublicKey, sealed_key: sealRoomKey(roomKey, late.kexPublicKey) })
      .then(
        () => undefined,
        (err: ConclaveError) => err,
      );
    expect([refused?.status, refused?.reason]).toEqual([409, "too_many_members"]);
  }, 120_000);
});
