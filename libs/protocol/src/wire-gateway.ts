import { z } from "zod";
import { publicKey32, scope, tenantId } from "./identity.ts";
import { rpcMethodName } from "./wire-rpc.ts";

/** `POST /v1/sessions` body: scopes default to all of the signer's, ttl to the gateway's default. */
export const sessionRequest = z
  .object({
    scopes: z.array(scope).max(32).optional(),
    ttl_s: z.number().int().min(1).max(86_400).optional(),
  })
  .strict();

export type SessionRequest = z.infer<typeof sessionRequest>;

export interface SessionResponse {
  token: string;
  jti: string;
  /** ISO 8601 UTC. */
  expires_at: string;
}

/** `POST /v1/tokens/{jti}/revoke` (and the CLI's revoke). */
export interface RevocationResult {
  jti: string;
  revoked: true;
  /** The token's own expiry (ISO 8601): the revocation record outlives it. */
  expires_at: string;
}

/** Session token ids: 128 random bits in base64url (they become KV keys and subject tokens). */
export const tokenId = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, "jti must be 16–64 base64url characters");

/** Rate-limit tiers are named by configuration; the names are plain words. */
export const tierName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "tier must be a lowercase word");

/** `PUT /v1/tenants/{tenant}/budget`: the tenant's units per period and, optionally, its tier. */
export const tenantPlanRequest = z
  .object({
    input: z.number().int().nonnegative().safe(),
    output: z.number().int().nonnegative().safe(),
    tier: tierName.optional(),
  })
  .strict();

export type TenantPlanRequest = z.infer<typeof tenantPlanRequest>;

export interface UnitPair {
  input: number;
  output: number;
}

/** `GET /v1/budget`. */
export interface BudgetView {
  tenant: string;
  tier: string;
  period: { start: string; end: string; seconds: number };
  limits: UnitPair;
  used: UnitPair;
  reserved: UnitPair;
  remaining: UnitPair;
  live_reservations: number;
}

/** Every audited outcome is its own value: denials are never folded into one another. */
export const AUDIT_OUTCOMES = [
  "ok",
  "auth_denied",
  "revoked",
  "forbidden",
  "insufficient_scope",
  "rate_limited",
  "budget_exceeded",
  "method_not_found",
  "upstream_timeout",
  "upstream_error",
  "invalid_request",
  "not_found",
  "conflict",
  "unavailable",
  "internal_error",
] as const;

export const auditOutcome = z.enum(AUDIT_OUTCOMES);
export type AuditOutcome = z.infer<typeof auditOutcome>;

/** One audit record, as stored on the audit stream and returned by `GET /v1/audit`. */
export const auditEvent = z
  .object({
    v: z.literal(1),
    id: z.string().min(1).max(64),
    at: z.iso.datetime(),
    /** The tenant the caller proved, or null when authentication failed before it was known. */
    tenant: tenantId.nullable(),
    /** The caller's sign_pub, when known. */
    subject: publicKey32.nullable(),
    credential: z.enum(["signed", "bearer", "none"]),
    jti: z.string().max(64).nullable(),
    /** The HTTP route (`POST /v1/rpc`) and, for RPC, the method called. */
    route: z.string().max(128),
    method: rpcMethodName.nullable(),
    outcome: auditOutcome,
    status: z.number().int(),
    reason: z.string().max(64).nullable(),
    request_id: z.string().max(128),
    instance: z.string().max(128),
    usage: z.object({ input: z.number(), output: z.number() }).strict().nullable(),
    /** A tally of unattributed answers: this many of this kind in the window ending at `at` (one replica). */
    count: z.number().int().positive().optional(),
  })
  .strict();

export type AuditEvent = z.infer<typeof auditEvent>;

export interface AuditPage {
  tenant: string;
  events: (AuditEvent & { seq: number })[];
  /** Pass as `after` for the next page; null when this page reached the end. */
  next: number | null;
}
