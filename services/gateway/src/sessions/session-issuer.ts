import { randomBytes } from "node:crypto";
import { toBase64url } from "@conclave/auth";
import { ApiError, type SessionRequest, type SessionResponse } from "@conclave/protocol";
import type { EventLog } from "@conclave/store";
import { SignJWT } from "jose";
import type { Caller } from "../access/caller.ts";
import { missingScopes } from "../access/scope-policy.ts";
import type { SessionIssued } from "./session-events.ts";
import type { TokenKeys } from "./token-keys.ts";
import { isoSeconds, sessionRef } from "./token-revocation.ts";

export interface SessionIssuerDeps {
  log: EventLog;
  keys: TokenKeys;
  issuer: string;
  defaultTtlS: number;
  maxTtlS: number;
  now: () => number;
}

/** Session tokens are issued through the event log: the issue is on record before the token exists. */
export class SessionIssuer {
  private readonly deps: SessionIssuerDeps;

  constructor(deps: SessionIssuerDeps) {
    this.deps = deps;
  }

  /**
   * A signed caller exchanges its signature for a short-lived token. The
   * `session.issued` event is stored first: a token whose issue is not on
   * record is never handed out (its owner must be known to revoke it).
   */
  async issue(caller: Caller, request: SessionRequest): Promise<SessionResponse> {
    const { principal } = caller;
    const scopes = request.scopes ?? principal.scopes;
    const missing = missingScopes(scopes, principal.scopes);
    if (missing.length > 0) {
      throw new ApiError("forbidden", `scopes not held by the signer: ${missing.join(", ")}`, {
        reason: "insufficient_scope",
      });
    }
    const ttl = request.ttl_s ?? this.deps.defaultTtlS;
    if (ttl > this.deps.maxTtlS) throw new ApiError("bad_request", `invalid ttl_s: at most ${this.deps.maxTtlS}`);
    const iat = Math.floor(this.deps.now() / 1000);
    const issued: SessionIssued = {
      jti: toBase64url(randomBytes(16)),
      sub: principal.signPub,
      tenant: principal.tenant,
      scopes: [...new Set(scopes)],
      iat,
      exp: iat + ttl,
    };
    await this.deps.log.append(
      sessionRef(issued.jti),
      { type: "session.issued", data: issued, actor: principal.signPub, id: `issue-${issued.jti}` },
      0,
    );
    const token = await new SignJWT({ tenant: issued.tenant, scopes: issued.scopes })
      .setProtectedHeader({ alg: this.deps.keys.alg, typ: "JWT", kid: this.deps.keys.kid })
      .setIssuer(this.deps.issuer)
      .setSubject(issued.sub)
      .setJti(issued.jti)
      .setIssuedAt(issued.iat)
      .setExpirationTime(issued.exp)
      .sign(this.deps.keys.signingKey);
    return { token, jti: issued.jti, expires_at: isoSeconds(issued.exp) };
  }
}
