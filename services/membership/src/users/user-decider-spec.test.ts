import { generateKeyPairSync } from "node:crypto";
import { deciderSpec } from "@conclave/store";
import { describe, expect, it } from "vitest";
import { bootstrapDecider, userDecider } from "./user-decider.ts";

const key = (kind: "ed25519" | "x25519") =>
  generateKeyPairSync(kind as "ed25519").publicKey.export({ format: "jwk" }).x as string;
const admin = { signPub: key("ed25519"), role: "admin" as const, tenant: "acme" };
const input = { sign_pub: key("ed25519"), kex_pub: key("x25519"), tenant: "acme", role: "member" as const, scopes: [] };
const added = { type: "user.added" as const, data: input };
const users = deciderSpec(userDecider, { type: "user", id: input.sign_pub });

describe("users decider, given/when/then", () => {
  it("given nothing, when an admin adds a user, then user.added and an active user", () => {
    const { decided, state } = users.given([]).when({ kind: "add", actor: admin, input });
    expect(decided).toEqual(added);
    expect(state?.status).toBe("active");
  });

  it("given a user, when it is added again, then conflict", () => {
    expect(users.given([added]).refusal({ kind: "add", actor: admin, input })).toMatchObject({ code: "conflict" });
  });

  it("given a revoked user, when it is revoked again, then conflict; once, then user.revoked", () => {
    const revoke = { kind: "revoke", actor: admin, reason: "lost" } as const;
    const revoked = { type: "user.revoked" as const, data: { reason: "lost" } };
    expect(users.given([added]).when(revoke)).toMatchObject({ decided: revoked, state: { status: "revoked" } });
    expect(users.given([added, revoked]).refusal(revoke)).toMatchObject({ code: "conflict" });
  });

  it("given an admin bootstrap identity, when bootstrapped again, then it becomes operator (once)", () => {
    const old = { type: "user.added" as const, data: { ...input, role: "admin" as const } };
    const boot = { kind: "bootstrap", input: { ...input, role: "operator" as const } } as const;
    const upgraded = { type: "user.role_changed" as const, data: { role: "operator" as const } };
    expect(users.given([old]).when(boot).decided).toEqual(upgraded);
    expect(users.given([old, upgraded]).when(boot).decided).toBeUndefined();
  });
});

describe("bootstrap marker decider, given/when/then", () => {
  const marker = deciderSpec(bootstrapDecider, { type: "system", id: "bootstrap" });
  const claimed = { type: "system.bootstrapped" as const, data: { admin: input.sign_pub } };

  it("given no marker, when bootstrapped, then system.bootstrapped for that key", () => {
    expect(marker.given([]).when({ admin: input.sign_pub }).decided).toEqual(claimed);
  });

  it("given a marker for this key, nothing to do; for another key, conflict", () => {
    expect(marker.given([claimed]).when({ admin: input.sign_pub }).decided).toBeUndefined();
    expect(marker.given([claimed]).refusal({ admin: admin.signPub })).toMatchObject({ code: "conflict" });
  });
});
