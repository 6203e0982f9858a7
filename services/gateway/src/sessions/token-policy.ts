import { publicKey32, scope, TENANT_PATTERN, tokenId } from "@conclave/protocol";
import { compactVerify, decodeProtectedHeader, errors as joseErrors } from "jose";
import { z } from "zod";
import type { TokenKeys } from "./token-keys.ts";

/** Why a token was refused: stable, safe to show, one per check. */
export type TokenReason =
  | "malformed"
  | "bad_alg"
  | "bad_typ"
  | "bad_header"
  | "unknown_kid"
  | "bad_signature"
  | "missing_exp"
  | "bad_exp"
  | "expired"
  | "bad_iat"
  | "iat_in_future"
  | "lifetime_too_long"
  | "not_yet_valid"
  | "missing_jti"
  | "bad_issuer"
  | "bad_tenant"
  | "bad_subject"
  | "bad_scopes";

export class TokenRejected extends Error {
  readonly reason: TokenReason;
  /** Claims of a token whose signature verified (so they are ours), for the audit trail. */
  readonly claims: Partial<SessionClaims> | undefined;

  constructor(reason: TokenReason, claims?: Partial<SessionClaims>) {
    super(`token rejected: ${reason}`);
    this.name = "TokenRejected";
    this.reason = reason;
    this.claims = claims;
  }
}

export interface SessionClaims {
  iss: string;
  /** The user's sign_pub. */
  sub: string;
  tenant: string;
  scopes: string[];
  jti: string;
  iat: number;
  exp: number;
}

export interface TokenPolicy {
  keys: TokenKeys;
  issuer: string;
  /** Longest accepted `exp - iat`, seconds (at most 24 h). */
  maxLifetimeS: number;
  /** Accepted clock skew for `iat` and `nbf` in the future, seconds. */
  futureSkewS: number;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_CHARS = 4096;
// Header parameters that would let a token choose its own key or processing rules.
const FORBIDDEN_HEADER = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64", "zip", "enc"];
const ALLOWED_HEADER = new Set(["alg", "typ", "kid"]);

const isSeconds = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

/**
 * Our policy around jose, in order: shape → header (alg is the configured one,
 * typ JWT, no embedded keys or crit, known kid) BEFORE any crypto → signature
 * (jose, pinned to the one algorithm) → claims (exp mandatory and in the
 * future, iat numeric and not ahead by more than the skew, exp − iat within the
 * maximum lifetime, jti present, tenant and subject well formed, scopes valid).
 * Revocation is checked by the caller (session-verifier.ts), never skipped.
 */
export async function checkTokenPolicy(token: string, policy: TokenPolicy, nowMs: number): Promise<SessionClaims> {
  if (token.length > MAX_TOKEN_CHARS || !COMPACT_JWS.test(token)) throw new TokenRejected("malformed");
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw new TokenRejected("malformed");
  }
  // alg confusion and "none" stop here, before a key is even looked up.
  if (header.alg !== policy.keys.alg) throw new TokenRejected("bad_alg");
  if (header.typ !== "JWT") throw new TokenRejected("bad_typ");
  if (FORBIDDEN_HEADER.some((p) => p in header) || Object.keys(header).some((p) => !ALLOWED_HEADER.has(p))) {
    throw new TokenRejected("bad_header");
  }
  if (header.kid !== undefined && typeof header.kid !== "string") throw new TokenRejected("bad_header");
  const key = policy.keys.verificationKey(header.kid as string | undefined);
  if (!key) throw new TokenRejected("unknown_kid");

  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, key, { algorithms: [policy.keys.alg] }));
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenRejected("bad_signature");
    throw new TokenRejected("malformed");
  }
  let claims: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    claims = parsed as Record<string, unknown>;
  } catch {
    throw new TokenRejected("malformed");
  }
  return checkClaims(claims, policy, nowMs);
}

const scopesSchema = z.array(scope).max(32);

function checkClaims(c: Record<string, unknown>, policy: TokenPolicy, nowMs: number): SessionClaims {
  // The signature verified: these claims are ours, worth keeping for the audit even when refused.
  const known: Partial<SessionClaims> = {
    ...(typeof c.sub === "string" && publicKey32.safeParse(c.sub).success ? { sub: c.sub } : {}),
    ...(typeof c.tenant === "string" && TENANT_PATTERN.test(c.tenant) ? { tenant: c.tenant } : {}),
    ...(typeof c.jti === "string" && tokenId.safeParse(c.jti).success ? { jti: c.jti } : {}),
  };
  const reject = (reason: TokenReason) => new TokenRejected(reason, known);
  const now = Math.floor(nowMs / 1000);
  if (c.exp === undefined) throw reject("missing_exp");
  if (!isSeconds(c.exp)) throw reject("bad_exp");
  if (!isSeconds(c.iat)) throw reject("bad_iat");
  if (c.iat > now + policy.futureSkewS) throw reject("iat_in_future");
  if (c.exp <= c.iat) throw reject("bad_exp");
  if (c.exp - c.iat > policy.maxLifetimeS) throw reject("lifetime_too_long");
  if (c.exp <= now) throw reject("expired");
  if (c.nbf !== undefined && (!isSeconds(c.nbf) || c.nbf > now + policy.futureSkewS)) throw reject("not_yet_valid");
  // Absent, empty or not one of ours: without a usable jti a token could not be revoked.
  if (!known.jti) throw reject("missing_jti");
  if (c.iss !== policy.issuer) throw reject("bad_issuer");
  if (typeof c.tenant !== "string" || !TENANT_PATTERN.test(c.tenant)) throw reject("bad_tenant");
  if (!known.sub) throw reject("bad_subject");
  const scopes = scopesSchema.safeParse(c.scopes);
  if (!scopes.success) throw reject("bad_scopes");
  return {
    iss: policy.issuer,
    sub: known.sub,
    tenant: c.tenant,
    scopes: scopes.data,
    jti: known.jti,
    iat: c.iat,
    exp: c.exp,
  };
}
