import { type ApiError, sealedKey } from "@conclave/protocol";
import { BUCKETS, STREAMS, storedAt } from "@conclave/store";
import { describe, expect, it } from "vitest";
import {
  type Decision,
  decideCreate,
  decideInvite,
  decideRekey,
  decideRemove,
  decideRevokedRemoval,
  evolveRoom,
  MAX_ROOM_MEMBERS,
} from "./room-decider.ts";
import type { ROOM_EVENT_SCHEMAS, RoomState } from "./room-events.ts";

const key = (c: string) => c.repeat(43);
const owner = { signPub: key("O"), kexPub: key("o"), tenant: "acme" };
const admin = { signPub: key("A"), kexPub: key("a"), tenant: "acme" };
const member = { signPub: key("M"), kexPub: key("m"), tenant: "acme" };
const outsider = { signPub: key("X"), kexPub: key("x"), tenant: "acme" };
const sealed = "s".repeat(48);
const user = (p: typeof owner, over: object = {}) => ({
  signPub: p.signPub,
  kexPub: p.kexPub,
  tenant: p.tenant,
  active: true,
  ...over,
});

let seq = 0;
const apply = (room: RoomState | undefined, d: Decision): RoomState => {
  const next = evolveRoom(room, storedAt<typeof ROOM_EVENT_SCHEMAS>(d, ++seq, { type: "room", id: "r1" }));
  if (!next) throw new Error("no room");
  return next;
};
const code = (fn: () => unknown) => {
  try {
    fn();
    return "ok";
  } catch (err) {
    return (err as ApiError).code;
  }
};
const e2eRoom = () => {
  let room = apply(
    undefined,
    decideCreate(
      owner,
      undefined,
      { id: "r1", mode: "e2e", subject: "conclave.room.acme.r1", sealed_key: sealed },
      { cleartextAllowed: false },
    ),
  );
  room = apply(room, decideInvite(owner, room, user(admin), { role: "admin", sealed_key: sealed }));
  return apply(room, decideInvite(owner, room, user(member), { role: "member", sealed_key: sealed }));
};

describe("room decider", () => {
  it("the creator is the owner, epoch 1 keyed", () => {
    const room = apply(
      undefined,
      decideCreate(owner, undefined, { id: "r1", mode: "e2e", sealed_key: sealed }, { cleartextAllowed: false }),
    );
    expect(room).toMatchObject({ owner: owner.signPub, epoch: 1, keyed_epoch: 1, tenant: "acme" });
    expect(room.members[owner.signPub]?.role).toBe("owner");
  });

  it("cleartext rooms are refused on a public bind and allowed on loopback", () => {
    const input = { id: "r1", mode: "clear" as const };
    expect(code(() => decideCreate(owner, undefined, input, { cleartextAllowed: false }))).toBe("forbidden");
    expect(code(() => decideCreate(owner, undefined, input, { cleartextAllowed: true }))).toBe("ok");
  });

  it("a room's subject is conclave.room.<tenant>.<id> or a subject below it, nothing else", () => {
    const create = (subject: string | undefined) =>
      decideCreate(
        owner,
        undefined,
        { id: "r1", mode: "e2e", subject, sealed_key: sealed },
        { cleartextAllowed: false },
      );
    expect((create(undefined).data as { subject: string }).subject).toBe("conclave.room.acme.r1");
    expect((create("conclave.room.acme.r1.chat").data as { subject: string }).subject).toBe(
      "conclave.room.acme.r1.chat",
    );
    for (const bad of [
      "conclave.room.acme.r10",
      "conclave.room.acme.r2",
      "conclave.room.acme.r1.*",
      "conclave.room.acme.r1.>",
      "conclave.room.r1",
      "conclave.room.other.r1",
      "s",
    ]) {
      expect(
        code(() => create(bad)),
        bad,
      ).toBe("bad_request");
    }
  });

  it("e2e rooms need the owner's sealed key; a duplicate id conflicts", () => {
    expect(code(() => decideCreate(owner, undefined, { id: "r1", mode: "e2e" }, { cleartextAllowed: true }))).toBe(
      "bad_request",
    );
    expect(
      code(() =>
        decideCreate(owner, e2eRoom(), { id: "r1", mode: "e2e", sealed_key: sealed }, { cleartextAllowed: true }),
      ),
    ).toBe("conflict");
  });

  it("only owners and admins invite, only owners make admins, invitees must be active users of the tenant", () => {
    const room = e2eRoom();
    expect(code(() => decideInvite(member, room, user(outsider), { role: "member", sealed_key: sealed }))).toBe(
      "forbidden",
    );
    expect(code(() => decideInvite(admin, room, user(outsider), { role: "admin", sealed_key: sealed }))).toBe(
      "forbidden",
    );
    expect(code(() => decideInvite(admin, room, user(outsider), { role: "member", sealed_key: sealed }))).toBe("ok");
    expect(
      code(() =>
        decideInvite(owner, room, user(outsider, { tenant: "other" }), { role: "member", sealed_key: sealed }),
      ),
    ).toBe("bad_request");
    expect(
      code(() => decideInvite(owner, room, user(outsider, { active: false }), { role: "member", sealed_key: sealed })),
    ).toBe("bad_request");
    expect(code(() => decideInvite(owner, room, undefined, { role: "member", sealed_key: sealed }))).toBe(
      "bad_request",
    );
    expect(code(() => decideInvite(owner, room, user(member), { role: "member", sealed_key: sealed }))).toBe(
      "conflict",
    );
    expect(code(() => decideInvite(owner, room, user(outsider), { role: "member" }))).toBe("bad_request");
  });

  it("non-members learn nothing: every decision about the room is not_found", () => {
    const room = e2eRoom();
    expect(code(() => decideInvite(outsider, room, user(outsider), { role: "member", sealed_key: sealed }))).toBe(
      "not_found",
    );
    expect(code(() => decideRemove(outsider, room, member.signPub))).toBe("not_found");
    expect(code(() => decideRekey(outsider, room, { epoch: 2, sealed_keys: {} }))).toBe("not_found");
  });

  it("removal: by rank, members may leave, the owner may not; it opens an unkeyed epoch", () => {
    const room = e2eRoom();
    expect(code(() => decideRemove(member, room, admin.signPub))).toBe("forbidden");
    expect(code(() => decideRemove(admin, room, owner.signPub))).toBe("forbidden");
    expect(code(() => decideRemove(owner, room, owner.signPub))).toBe("conflict");
    const left = apply(room, decideRemove(member, room, member.signPub));
    expect(left.members[member.signPub]).toBeUndefined();
    expect([left.epoch, left.keyed_epoch]).toEqual([2, 1]);
  });

  it("a rekey covers exactly the current members at the next epoch; invites wait for it", () => {
    let room = e2eRoom();
    room = apply(room, decideRemove(owner, room, member.signPub));
    expect(code(() => decideInvite(owner, room, user(outsider), { role: "member", sealed_key: sealed }))).toBe(
      "conflict",
    );
    const keys = { [owner.signPub]: sealed, [admin.signPub]: sealed };
    expect(code(() => decideRekey(owner, room, { epoch: 3, sealed_keys: keys }))).toBe("conflict");
    expect(code(() => decideRekey(owner, room, { epoch: 2, sealed_keys: { ...keys, [member.signPub]: sealed } }))).toBe(
      "bad_request",
    );
    expect(code(() => decideRekey(owner, room, { epoch: 2, sealed_keys: { [owner.signPub]: sealed } }))).toBe(
      "bad_request",
    );
    room = apply(room, decideRekey(owner, room, { epoch: 2, sealed_keys: keys }));
    expect([room.epoch, room.keyed_epoch]).toEqual([2, 2]);
    // A rotation without removal moves to epoch + 1.
    room = apply(room, decideRekey(admin, room, { epoch: 3, sealed_keys: keys }));
    expect(room.epoch).toBe(3);
  });

  it("a revoked user is removed whatever its role, the owner included; a non-member is a no-op", () => {
    const room = e2eRoom();
    expect(decideRevokedRemoval(room, owner.signPub)).toEqual({
      type: "room.member_removed",
      data: { member: owner.signPub, reason: "revoked" },
    });
    const gone = apply(room, decideRevokedRemoval(room, member.signPub) as Decision);
    expect([gone.epoch, gone.keyed_epoch, gone.members[member.signPub]]).toEqual([2, 1, undefined]);
    expect(decideRevokedRemoval(gone, member.signPub)).toBeUndefined();
    expect(decideRevokedRemoval(undefined, member.signPub)).toBeUndefined();
  });

  it(`a room takes ${MAX_ROOM_MEMBERS} members and refuses one more (too_many_members)`, () => {
    const room = e2eRoom();
    const filler = (i: number) => i.toString(36).padStart(43, "F");
    const members = { ...room.members };
    while (Object.keys(members).length < MAX_ROOM_MEMBERS - 1) {
      members[filler(Object.keys(members).length)] = { role: "member", kex_pub: key("k") };
    }
    const almost = { ...room, members };
    const full = apply(almost, decideInvite(owner, almost, user(outsider), { role: "member", sealed_key: sealed }));
    expect(Object.keys(full.members)).toHaveLength(MAX_ROOM_MEMBERS);
    const one = { signPub: key("Y"), kexPub: key("y"), tenant: "acme" };
    try {
      decideInvite(owner, full, user(one), { role: "member", sealed_key: sealed });
      expect.unreachable("the invite past the bound was accepted");
    } catch (err) {
      expect([(err as ApiError).code, (err as ApiError).reason]).toEqual(["conflict", "too_many_members"]);
    }
  });

  it("a full room's snapshot fits the rooms bucket, its rekey event the event log, with every sealed key at its maximum", () => {
    const longest = "k".repeat(256);
    expect(sealedKey.safeParse(longest).success).toBe(true);
    expect(sealedKey.safeParse(`${longest}k`).success).toBe(false);
    const members = Array.from({ length: MAX_ROOM_MEMBERS }, (_, i) => i.toString(36).padStart(43, "F"));
    const rekey = Buffer.byteLength(
      JSON.stringify({ epoch: 2 ** 31, sealed_keys: Object.fromEntries(members.map((m) => [m, longest])) }),
    );
    const room = e2eRoom();
    const snapshot = Buffer.byteLength(
      JSON.stringify({
        seq: 2 ** 40,
        data: {
          ...room,
          subject: "s".repeat(256),
          members: Object.fromEntries(members.map((m) => [m, { role: "member", kex_pub: key("k") }])),
        },
      }),
    );
    console.log(`at ${MAX_ROOM_MEMBERS} members: rekey event data ${rekey} B, room snapshot ${snapshot} B`);
    // The event envelope (ids, actor, time) adds well under 1 KiB: half of each limit is the margin kept.
    expect(rekey).toBeLessThan(STREAMS.events.maxMsgBytes / 2);
    expect(snapshot).toBeLessThan(BUCKETS.rooms.maxValueBytes / 2);
  });
});
