import type { Principal } from "@conclave/auth";
import { describe, expect, it } from "vitest";
import type { Caller } from "./caller.ts";
import { isAdmin, mayCallMethod, mayReadTenant, mayRevoke, missingScopes } from "./scope-policy.ts";

const principal = (role: "admin" | "member", scopes: string[], tenant = "acme"): Principal => ({
  signPub: `${role}-${scopes.join("+")}`,
  kexPub: "k",
  tenant,
  role,
  scopes,
  status: "active",
});
const signed = (p: Principal): Caller => ({ credential: "signed", principal: p });
const bearer = (p: Principal): Caller => ({ credential: "bearer", principal: p, jti: "j", exp: 1 });

describe("scope policy", () => {
  it("read-only scopes call read methods only; rpc:call calls both; no scope calls nothing", () => {
    expect(mayCallMethod(bearer(principal("member", ["rpc:read"])), "read")).toBe(true);
    expect(mayCallMethod(bearer(principal("member", ["rpc:read"])), "mutation")).toBe(false);
    expect(mayCallMethod(bearer(principal("member", ["rpc:call"])), "mutation")).toBe(true);
    expect(mayCallMethod(bearer(principal("member", ["rpc:call"])), "read")).toBe(true);
    expect(mayCallMethod(signed(principal("admin", [])), "read")).toBe(false);
  });

  it("admin powers: an admin's signature, or an admin's token that carries the admin scope", () => {
    expect(isAdmin(signed(principal("admin", [])))).toBe(true);
    expect(isAdmin(bearer(principal("admin", ["rpc:call"])))).toBe(false);
    expect(isAdmin(bearer(principal("admin", ["admin"])))).toBe(true);
    expect(isAdmin(bearer(principal("member", ["admin"])))).toBe(false);
  });

  it("tenants read their own; tokens are revoked by their subject or an admin; sessions narrow scopes", () => {
    const member = signed(principal("member", ["rpc:call"]));
    expect(mayReadTenant(member, "acme")).toBe(true);
    expect(mayReadTenant(member, "other")).toBe(false);
    expect(mayReadTenant(signed(principal("admin", [], "ops")), "other")).toBe(true);
    expect(mayRevoke(member, member.principal.signPub)).toBe(true);
    expect(mayRevoke(member, "someone-else")).toBe(false);
    expect(missingScopes(["rpc:read", "admin"], ["rpc:read", "rpc:call"])).toEqual(["admin"]);
  });
});
