import type { Principal } from "@conclave/auth";
import { describe, expect, it } from "vitest";
import type { Caller } from "./caller.ts";
import {
  mayCallMethod,
  mayManageTenant,
  mayReadTenant,
  mayReadUnattributed,
  mayRevoke,
  missingScopes,
} from "./scope-policy.ts";

const principal = (role: Principal["role"], scopes: string[], tenant = "acme"): Principal => ({
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
    expect(mayManageTenant(signed(principal("admin", [])), "acme")).toBe(true);
    expect(mayManageTenant(bearer(principal("admin", ["rpc:call"])), "acme")).toBe(false);
    expect(mayManageTenant(bearer(principal("admin", ["admin"])), "acme")).toBe(true);
    expect(mayManageTenant(bearer(principal("member", ["admin"])), "acme")).toBe(false);
  });

  it("an admin manages its own tenant only; an operator every tenant and the unattributed records", () => {
    const admin = signed(principal("admin", []));
    const operator = signed(principal("operator", [], "local"));
    expect(mayManageTenant(admin, "other")).toBe(false);
    expect(mayReadTenant(admin, "other")).toBe(false);
    expect(mayReadUnattributed(admin)).toBe(false);
    expect(mayManageTenant(operator, "other")).toBe(true);
    expect(mayReadTenant(operator, "other")).toBe(true);
    expect(mayReadUnattributed(operator)).toBe(true);
    expect(mayManageTenant(bearer(principal("operator", ["rpc:call"], "local")), "other")).toBe(false);
    expect(mayRevoke(admin, { sub: "x", tenant: "acme" })).toBe(true);
    expect(mayRevoke(admin, { sub: "x", tenant: "other" })).toBe(false);
  });

  it("tenants read their own; tokens are revoked by their subject or an admin; sessions narrow scopes", () => {
    const member = signed(principal("member", ["rpc:call"]));
    expect(mayReadTenant(member, "acme")).toBe(true);
    expect(mayReadTenant(member, "other")).toBe(false);
    expect(mayReadTenant(signed(principal("operator", [], "ops")), "other")).toBe(true);
    expect(mayRevoke(member, { sub: member.principal.signPub, tenant: "acme" })).toBe(true);
    expect(mayRevoke(member, { sub: "someone-else", tenant: "acme" })).toBe(false);
    expect(missingScopes(["rpc:read", "admin"], ["rpc:read", "rpc:call"])).toEqual(["admin"]);
  });
});
