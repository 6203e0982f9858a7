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
 * Admin powers (budgets, other tenants' audit, others' tokens): the admin's
 * own signature, or a session token that was explicitly given the `admin`
 * scope. A narrower token of an admin is just that: narrower.
 */
export function isAdmin(caller: Caller): boolean {
  if (caller.principal.role !== "admin") return false;
  return caller.credential === "signed" || caller.principal.scopes.includes(ADMIN_SCOPE);
}

export function mayReadTenant(caller: Caller, tenant: string): boolean {
  return isAdmin(caller) || caller.principal.tenant === tenant;
}

/** A token may be revoked by an admin or by the user it was issued to (with any of their credentials). */
export function mayRevoke(caller: Caller, tokenSubject: string): boolean {
  return isAdmin(caller) || caller.principal.signPub === tokenSubject;
}

/** Scopes a session may carry: a subset of the signer's own. Returns the ones the signer lacks. */
export function missingScopes(requested: readonly string[], held: readonly string[]): string[] {
  return requested.filter((s) => !held.includes(s));
}
