import { ApiError } from "@conclave/protocol";
import type { StoredEvent } from "@conclave/store";
import { describe, expect, it } from "vitest";
import { decideAddUser, decideRevokeUser, evolveUser, mayReadUser } from "./user-decider.ts";

const admin = { signPub: "A".repeat(43), role: "admin" as const };
const member = { signPub: "M".repeat(43), role: "member" as const };
const input = {
  sign_pub: "B".repeat(43),
  kex_pub: "C".repeat(43),
  tenant: "acme",
  role: "member" as const,
  scopes: [],
};
const event = (type: string, data: unknown, seq: number): StoredEvent => ({
  v: 1,
  id: `e${seq}`,
  type,
  aggregate: { type: "user", id: input.sign_pub },
  actor: admin.signPub,
  at: "2026-11-25T00:00:00.000Z",
  prev: seq - 1,
  data,
  seq,
});
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as ApiError).code;
  }
  return "ok";
};

describe("users decider", () => {
  it("given no user, when an admin adds one, then user.added", () => {
    expect(decideAddUser(admin, undefined, input)).toEqual({ type: "user.added", data: input });
  });
  it("a member cannot add users", () => {
    expect(code(() => decideAddUser(member, undefined, input))).toBe("forbidden");
  });
  it("adding an existing key is a conflict", () => {
    const existing = evolveUser(undefined, event("user.added", input, 1));
    expect(code(() => decideAddUser(admin, existing, input))).toBe("conflict");
  });
  it("given an active user, when an admin revokes it, then it is revoked with the event's time", () => {
    const active = evolveUser(undefined, event("user.added", input, 1));
    const decision = decideRevokeUser(admin, active);
    const revoked = evolveUser(active, event(decision.type, decision.data, 2));
    expect(revoked?.status).toBe("revoked");
    expect(revoked?.revoked_at).toBe("2026-11-25T00:00:00.000Z");
  });
  it("revoking is admin-only, unknown users are not found, revoking twice is a conflict", () => {
    const active = evolveUser(undefined, event("user.added", input, 1));
    expect(code(() => decideRevokeUser(member, active))).toBe("forbidden");
    expect(code(() => decideRevokeUser(admin, undefined))).toBe("not_found");
    const revoked = evolveUser(active, event("user.revoked", {}, 2));
    expect(code(() => decideRevokeUser(admin, revoked))).toBe("conflict");
  });
  it("a user reads itself; only admins read others", () => {
    expect(mayReadUser(member, member.signPub)).toBe(true);
    expect(mayReadUser(member, admin.signPub)).toBe(false);
    expect(mayReadUser(admin, member.signPub)).toBe(true);
  });
  it("errors are wire errors", () => {
    expect(() => decideAddUser(member, undefined, input)).toThrow(ApiError);
  });
});
