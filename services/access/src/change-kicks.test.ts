import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deletedRoomMembersFilter, kicksOfChange, memberOfMemberRoomKey, type TableChange } from "./change-kicks.ts";

const pub = () => randomBytes(32).toString("base64url");
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const change = (c: Partial<TableChange> & Pick<TableChange, "table" | "key">): TableChange => ({
  removed: false,
  value: new Uint8Array(),
  ...c,
});

describe("whose connections a committed change makes stale", () => {
  it("a user revoked, deleted or unreadable is kicked; an active one is not", () => {
    const u = pub();
    expect(
      kicksOfChange(change({ table: "users", key: u, value: json({ seq: 2, data: { status: "revoked" } }) })),
    ).toEqual([u]);
    expect(kicksOfChange(change({ table: "users", key: u, removed: true }))).toEqual([u]);
    expect(kicksOfChange(change({ table: "users", key: u, value: json({ seq: 2, data: {} }) }))).toEqual([u]);
    expect(kicksOfChange(change({ table: "users", key: u, value: new TextEncoder().encode("{not json") }))).toEqual([
      u,
    ]);
    expect(
      kicksOfChange(change({ table: "users", key: u, value: json({ seq: 1, data: { status: "active" } }) })),
    ).toEqual([]);
  });

  it("a member added to or removed from a room is kicked (it reconnects with the new room list)", () => {
    const m = pub();
    expect(kicksOfChange(change({ table: "memberRooms", key: `${m}.acme.r1`, value: json({ room: "r1" }) }))).toEqual([
      m,
    ]);
    expect(kicksOfChange(change({ table: "memberRooms", key: `${m}.acme.r1`, removed: true }))).toEqual([m]);
  });

  it("a key that holds no sign_pub where one belongs kicks nobody", () => {
    expect(kicksOfChange(change({ table: "users", key: "not-a-key", removed: true }))).toEqual([]);
    expect(kicksOfChange(change({ table: "memberRooms", key: "x.acme.r1", removed: true }))).toEqual([]);
    expect(memberOfMemberRoomKey("nobody.acme.r1")).toBeUndefined();
  });

  it("a deleted room is looked up by its members; a rewritten snapshot or a legacy alias is not", () => {
    expect(deletedRoomMembersFilter(change({ table: "rooms", key: "acme.r1", removed: true }))).toBe("*.acme.r1");
    expect(deletedRoomMembersFilter(change({ table: "rooms", key: "acme.r1" }))).toBeUndefined();
    expect(deletedRoomMembersFilter(change({ table: "rooms", key: "legacy", removed: true }))).toBeUndefined();
    expect(kicksOfChange(change({ table: "rooms", key: "acme.r1", removed: true }))).toEqual([]);
    const m = pub();
    expect(memberOfMemberRoomKey(`${m}.acme.r1`)).toBe(m);
  });
});
