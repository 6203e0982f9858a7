import { generateKeyPairSync } from "node:crypto";
import { ApiError } from "@conclave/protocol";
import { storedAt } from "@conclave/store";
import { describe, expect, it } from "vitest";
import {
  type Decision,
  decideAddUser,
  decideBootstrap,
  decideBootstrapUpgrade,
  decideRevokeUser,
  evolveUser,
  mayReadUser,
} from "./user-decider.ts";
import type { USER_EVENT_SCHEMAS } from "./user-events.ts";

const key = (kind: "ed25519" | "x25519") =>
  generateKeyPairSync(kind as "ed25519").publicKey.export({ format: "jwk" }).x as string;
const operator = { signPub: key("ed25519"), role: "operator" as const, tenant: "local" };
const admin = { signPub: key("ed25519"), role: "admin" as const, tenant: "acme" };
const otherAdmin = { signPub: key("ed25519"), role: "admin" as const, tenant: "beta" };
const member = { signPub: key("ed25519"), role: "member" as const, tenant: "acme" };
const input = {
  sign_pub: key("ed25519"),
  kex_pub: key("x25519"),
  tenant: "acme",
  role: "member" as const,
  scopes: [],
};
const event = (type: Decision["type"], data: unknown, seq: number) =>
  storedAt<typeof USER_EVENT_SCHEMAS>({ type, data } as Decision, seq, { type: "user", id: input.sign_pub });
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ApiError ? err.code : (err as Error).name;
  }
  return "ok";
};
const active = () => evolveUser(undefined, event("user.added", input, 1));

describe("users decider", () => {
  it("given no user, when an admin of its tenant adds one, then user.added", () => {
    expect(decideAddUser(admin, undefined, input)).toEqual({ type: "user.added", data: input });
  });
  it("a member cannot add users", () => {
    expect(code(() => decideAddUser(member, undefined, input))).toBe("forbidden");
  });
  it("an admin adds users to its own tenant only; an operator to any", () => {
    expect(code(() => decideAddUser(otherAdmin, undefined, input))).toBe("forbidden");
    expect(code(() => decideAddUser(operator, undefined, input))).toBe("ok");
  });
  it("only an operator creates an operator", () => {
    const op = { ...input, role: "operator" as const };
    expect(code(() => decideAddUser(admin, undefined, op))).toBe("forbidden");
    expect(code(() => decideAddUser(operator, undefined, op))).toBe("ok");
  });
  it("a weak key is refused whatever the path in (400 naming the field)", () => {
    const identity = Buffer.from([1, ...new Array(31).fill(0)]).toString("base64url");
    expect(code(() => decideAddUser(admin, undefined, { ...input, sign_pub: identity }))).toBe("ZodError");
    expect(code(() => decideAddUser(admin, undefined, { ...input, kex_pub: "A".repeat(43) }))).toBe("ZodError");
  });
  it("the tenant check comes before the existence check: another tenant's keys are not probed", () => {
    expect(code(() => decideAddUser(otherAdmin, active(), input))).toBe("forbidden");
    expect(code(() => decideAddUser(admin, active(), input))).toBe("conflict");
  });
  it("given an active user, when an admin revokes it, then it is revoked with the event's time", () => {
    const decision = decideRevokeUser(admin, active());
    const revoked = evolveUser(active(), event(decision.type, decision.data, 2));
    expect(revoked?.status).toBe("revoked");
    expect(revoked?.revoked_at).toBe("2026-11-25T00:00:00.000Z");
  });
  it("revoking: members may not; another tenant's user is not found; revoking twice is a conflict", () => {
    expect(code(() => decideRevokeUser(member, active()))).toBe("forbidden");
    expect(code(() => decideRevokeUser(admin, undefined))).toBe("not_found");
    expect(code(() => decideRevokeUser(otherAdmin, active()))).toBe("not_found");
    expect(code(() => decideRevokeUser(operator, active()))).toBe("ok");
    const revoked = evolveUser(active(), event("user.revoked", {}, 2));
    expect(code(() => decideRevokeUser(admin, revoked))).toBe("conflict");
  });
  it("an admin never revokes an operator of its tenant", () => {
    const op = evolveUser(undefined, event("user.added", { ...input, role: "operator" }, 1));
    expect(code(() => decideRevokeUser(admin, op))).toBe("forbidden");
  });
  it("a user reads itself; admins read their tenant's users; operators everyone", () => {
    const user = { sign_pub: input.sign_pub, tenant: "acme" };
    expect(mayReadUser(member, { sign_pub: member.signPub, tenant: "acme" })).toBe(true);
    expect(mayReadUser(member, user)).toBe(false);
    expect(mayReadUser(admin, user)).toBe(true);
    expect(mayReadUser(otherAdmin, user)).toBe(false);
    expect(mayReadUser(operator, user)).toBe(true);
  });
  it("the bootstrap identity's keys are checked like any other", () => {
    const zeros = Buffer.alloc(32).toString("base64url");
    expect(code(() => decideBootstrap(undefined, { ...input, role: "operator", kex_pub: zeros }))).toBe("ZodError");
    expect(decideBootstrap(undefined, { ...input, role: "operator" })?.type).toBe("user.added");
  });
  it("the bootstrap upgrade turns an admin into the operator, once", () => {
    const old = evolveUser(undefined, event("user.added", { ...input, role: "admin" }, 1));
    if (!old) throw new Error("no user");
    const decision = decideBootstrapUpgrade(old);
    expect(decision).toEqual({ type: "user.role_changed", data: { role: "operator" } });
    const upgraded = evolveUser(old, event("user.role_changed", decision?.data, 2));
    expect(upgraded?.role).toBe("operator");
    if (!upgraded) throw new Error("no user");
    expect(decideBootstrapUpgrade(upgraded)).toBeUndefined();
  });
});
