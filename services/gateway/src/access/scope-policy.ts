import type { MethodKind } from "../gateway-config.ts";
import type { Caller } from "./caller.ts";

// Who may do what at the gateway, in one place. Pure functions: no I/O.

/** Read-only RPC methods: either scope. */
export const RPC_READ_SCOPES = ["rpc:read", "rpc:call"] as const;
/** Mutations: only the full scope; `rpc:read` tokens can never change anything. */
export const RPC_MUTATION_SCOPE = "rpc:call";
/** What a session token of an admin must carry to act as admin (a signed request needs none). */
export const ADMIN_SCOPE = "admin";

export function mayCallMethod(caller: Caller, kind: MethodKind): boolean {
  const scopes = caller.principal.scopes;
  if (kind === "mutation") return scopes.includes(RPC_MUTATION_SCOPE);
  return RPC_READ_SCOPES.some((s) => scopes.includes(s));
}

/**
 * Administrative powers (budgets, audit, others' tokens) are held by an
 * operator or an admin through its own signature, or through a session token
 * explicitly given the `admin` scope. A narrower token is just that: narrower.
 */
function actsAsAdmin(caller: Caller): boolean {
  if (caller.principal.role !== "operator" && caller.principal.role !== "admin") return false;
  return caller.credential === "signed" || caller.principal.scopes.includes(ADMIN_SCOPE);
}

/** Operators manage every tenant; an admin only its own (issue 15: an admin of A ruled B). */
export function mayManageTenant(caller: Caller, tenant: string): boolean {
  if (!actsAsAdmin(caller)) return false;
  return caller.principal.role === "operator" || caller.principal.tenant === tenant;
}

/** Records no tenant owns (refused before authentication): operators only. */
export function mayReadUnattributed(caller: Caller): boolean {
  return actsAsAdmin(caller) && caller.principal.role === "operator";
}

export function mayReadTenant(caller: Caller, tenant: string): boolean {
  return caller.principal.tenant === tenant || mayManageTenant(caller, tenant);
}

/** A token may be revoked by the user it was issued to (any of its credentials) or by who manages its tenant. */
export function mayRevoke(caller: Caller, token: { sub: string; tenant: string }): boolean {
  return caller.principal.signPub === token.sub || mayManageTenant(caller, token.tenant);
}

/** Scopes a session may carry: a subset of the signer's own. Returns the ones the signer lacks. */
export function missingScopes(requested: readonly string[], held: readonly string[]): string[] {
  return requested.filter((s) => !held.includes(s));
}
