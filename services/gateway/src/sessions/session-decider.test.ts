import type { Principal } from "@conclave/auth";
import { deciderSpec } from "@conclave/store";
import { describe, expect, it } from "vitest";
import type { Caller } from "../access/caller.ts";
import { sessionDecider } from "./session-decider.ts";

const key = (c: string) => c.repeat(43);
const jti = "t".repeat(22);
const caller = (signPub: string, role: Principal["role"], tenant = "acme"): Caller => ({
  credential: "signed",
  principal: { signPub, role, tenant } as Principal,
});
const holder = caller(key("H"), "member");
const issued = {
  type: "session.issued" as const,
  data: { jti, sub: key("H"), tenant: "acme", scopes: [], iat: 1, exp: 2_000_000_000 },
};
const revoked = {
  type: "session.revoked" as const,
  data: { jti, sub: key("H"), tenant: "acme", exp: 2_000_000_000 },
  id: `revoke-${jti}`,
};
const spec = deciderSpec(sessionDecider, { type: "session", id: jti });

describe("session token decider, given/when/then", () => {
  it("given an issued token, when its holder revokes it, then session.revoked with a stable id", () => {
    expect(spec.given([issued]).when({ caller: holder, jti }).decided).toEqual(revoked);
  });

  it("given an issued token, when a member of another key or another tenant's admin revokes it, then not_found", () => {
    expect(spec.given([issued]).refusal({ caller: caller(key("X"), "member"), jti })).toMatchObject({
      code: "not_found",
    });
    expect(spec.given([issued]).refusal({ caller: caller(key("A"), "admin", "beta"), jti })).toMatchObject({
      code: "not_found",
    });
    expect(spec.given([issued]).when({ caller: caller(key("A"), "admin"), jti }).decided?.type).toBe("session.revoked");
  });

  it("given no token, when revoked, then not_found (unknown and others' tokens look the same)", () => {
    expect(spec.given([]).refusal({ caller: holder, jti })).toMatchObject({ code: "not_found" });
  });

  it("given a revoked token, when revoked again, then nothing to do (idempotent)", () => {
    const { decided, state } = spec.given([issued, revoked]).when({ caller: holder, jti });
    expect(decided).toBeUndefined();
    expect(state.revoked?.type).toBe("session.revoked");
  });
});
