import { applyRoomEvent, ROOM_EVENT_SCHEMAS, roomCommands, roomState, roomsProjection } from "@conclave/membership";
import type { Host } from "@conclave/runtime";
import {
  compareProjection,
  domainEvent,
  ProjectionWriter,
  projectionTables,
  rebuildProjection,
  type TableOpener,
} from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { identity, memberPrincipal, register, startMembershipHost } from "../support/membership-fixture.ts";

// Room commands apply their own event inline (snapshot last). A command that dies after its
// append, or between two writes of its plan, leaves the snapshot before the event: the next
// command on the room conflicts, applies what is missing itself, and decides on the caught-up room.
describe("room read models converge without the projection runner", () => {
  const cluster = useCluster({ nodes: 1 });
  let a: Host;
  const admin = identity("admin");
  const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((n) => identity(n));
  if (!alice || !bob || !carol || !dave) throw new Error("identities");
  const member = (k: typeof alice) => ({ member: k.signPublicKey, kex_pub: k.kexPublicKey, role: "member" as const });
  const snapshot = (id: string) => a.ctx.store.table("rooms", z.object({ seq: z.number(), data: roomState })).get(id);
  const memberRoom = (k: typeof alice, id: string) =>
    projectionTables(a.ctx.store)("memberRooms", z.unknown()).get(`${k.signPublicKey}.acme.${id}`);

  beforeAll(async () => {
    a = await startMembershipHost(cluster());
    await register(a, admin, [alice, bob, carol, dave], true);
    // The runner would converge the room by itself: stop it, so only the commands can.
    await a.ctx.projections.get(roomsProjection.name)?.stop();
  });
  afterAll(() => a?.close());

  it("killed between append and apply: the next command applies the event, then decides", async () => {
    const commands = roomCommands(a.ctx);
    const room = await commands.create(memberPrincipal(alice), { id: "c1", mode: "clear" });
    const version = (await snapshot("acme.c1"))?.value.seq ?? 0;
    // What a command that died right after its append leaves: the event, no read-model write.
    await a.ctx.log.append(
      { type: "room", id: "acme.c1" },
      { type: "room.member_invited", data: member(bob), actor: room.owner },
      version,
    );
    expect(await memberRoom(bob, "c1")).toBeUndefined();
    const after = await commands.invite(memberPrincipal(alice), "c1", { member: carol.signPublicKey, role: "member" });
    expect(Object.keys(after.members).sort()).toEqual([alice, bob, carol].map((k) => k.signPublicKey).sort());
    expect((await snapshot("acme.c1"))?.value.data.members).toEqual(after.members);
    expect(await memberRoom(bob, "c1")).toBeDefined();
  });

  it("killed between two writes of a plan: the next command finishes it (a removal stays removed)", async () => {
    const commands = roomCommands(a.ctx);
    await commands.create(memberPrincipal(alice), { id: "c2", mode: "clear" });
    await commands.invite(memberPrincipal(alice), "c2", { member: bob.signPublicKey, role: "member" });
    const before = (await snapshot("acme.c2"))?.value;
    const stored = await a.ctx.log.append(
      { type: "room", id: "acme.c2" },
      { type: "room.member_removed", data: { member: bob.signPublicKey }, actor: alice.signPublicKey },
      before?.seq ?? 0,
    );
    const event = domainEvent(ROOM_EVENT_SCHEMAS, stored);
    if (!event) throw new Error("a room event");
    // The process dies after the plan's first write: every later write throws.
    let writes = 0;
    const live = projectionTables(a.ctx.store);
    const dying: TableOpener = (key, schema) => {
      const table = live(key, schema);
      const die = <F extends (...args: never[]) => Promise<unknown>>(f: F) =>
        ((...args: Parameters<F>) => {
          if (++writes > 1) throw new Error("killed");
          return f.apply(table, args);
        }) as F;
      return Object.assign(Object.create(table), { update: die(table.update), delete: die(table.delete) });
    };
    await expect(
      applyRoomEvent(new ProjectionWriter(event, dying), { tenant: "acme", id: "c2" }, before, event),
    ).rejects.toThrow("killed");
    expect((await snapshot("acme.c2"))?.value.seq).toBe(before?.seq);
    const after = await commands.invite(memberPrincipal(alice), "c2", { member: dave.signPublicKey, role: "member" });
    expect(after.members[bob.signPublicKey]).toBeUndefined();
    expect(await memberRoom(bob, "c2")).toBeUndefined();
    expect(await memberRoom(dave, "c2")).toBeDefined();
  });

  it("the runner, started again, skips what the commands applied; a rebuild equals live", async () => {
    const runner = a.ctx.projections.get(roomsProjection.name);
    runner?.start();
    await runner?.caughtUp();
    await rebuildProjection(a.ctx.store, a.ctx.log, roomsProjection);
    expect(await compareProjection(a.ctx.store, roomsProjection)).toEqual([]);
  });
});
