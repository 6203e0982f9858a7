import type { Principal } from "@conclave/auth";
import type { UserRecord } from "@conclave/protocol";
import { ApiError, unavailableError } from "@conclave/protocol";
import type { KvTable, Projected } from "@conclave/store";
import type { Caller } from "../access/caller.ts";
import type { RevokedToken } from "./session-events.ts";
import { checkTokenPolicy, type SessionClaims, type TokenPolicy, TokenRejected } from "./token-policy.ts";

export interface SessionVerifierDeps {
  policy: TokenPolicy;
  users: Pick<KvTable<Projected<UserRecord>>, "get">;
  revoked: Pick<KvTable<Projected<RevokedToken>>, "get">;
  /** A quorum write issued after the reads returned (store.witness.confirm). */
  confirmFresh(): Promise<void>;
  now: () => number;
}

/** A refused token: `revoked` and `auth_denied` are different audit outcomes. */
export class TokenDenied extends ApiError {
  readonly outcome: "auth_denied" | "revoked";
  /** What we know for sure about the token (its signature verified), for the audit trail. */
  readonly claims: Partial<SessionClaims> | undefined;

  constructor(outcome: "auth_denied" | "revoked", reason: string, claims?: Partial<SessionClaims>) {
    super("unauthorized", outcome === "revoked" ? "token revoked" : "token rejected", { reason });
    this.outcome = outcome;
    this.claims = claims;
  }
}

const unavailable = (cause: unknown) => unavailableError("cannot confirm the token right now, retry later", cause);

/**
 * THE verification of a session token; every route that takes a bearer token
 * calls this and nothing else. Policy and signature (token-policy.ts), then
 * two leader reads — the revoked bucket and the user's allowlist entry — and a
 * quorum witness after them: an allow never rests on a read a stale replica
 * could have answered. Any store failure refuses with 503 (fail closed).
 */
export async function verifySessionToken(token: string, deps: SessionVerifierDeps): Promise<Caller> {
  let claims: SessionClaims;
  try {
    claims = await checkTokenPolicy(token, deps.policy, deps.now());
  } catch (err) {
    if (err instanceof TokenRejected) throw new TokenDenied("auth_denied", err.reason, err.claims);
    throw err;
  }
  let revoked: Awaited<ReturnType<SessionVerifierDeps["revoked"]["get"]>>;
  let user: Awaited<ReturnType<SessionVerifierDeps["users"]["get"]>>;
  try {
    [revoked, user] = await Promise.all([deps.revoked.get(claims.jti), deps.users.get(claims.sub)]);
  } catch (err) {
    throw unavailable(err);
  }
  // Denials need no witness: a stale read can only make us deny what is now allowed.
  if (revoked) throw new TokenDenied("revoked", "token_revoked", claims);
  if (!user) throw new TokenDenied("auth_denied", "unknown_subject", claims);
  const record = user.value.data;
  if (record.status !== "active") throw new TokenDenied("revoked", "revoked_subject", claims);
  if (record.tenant !== claims.tenant) throw new TokenDenied("auth_denied", "tenant_mismatch", claims);
  try {
    await deps.confirmFresh();
  } catch (err) {
    throw unavailable(err);
  }
  const principal: Principal = {
    signPub: record.sign_pub,
    kexPub: record.kex_pub,
    tenant: record.tenant,
    role: record.role,
    // A token never grants more than its user holds now.
    scopes: claims.scopes.filter((s) => record.scopes.includes(s)),
    status: record.status,
    name: record.name,
  };
  return { credential: "bearer", principal, jti: claims.jti, exp: claims.exp };
}
