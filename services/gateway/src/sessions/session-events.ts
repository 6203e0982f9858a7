import { publicKey32, scope, tenantId, tokenId } from "@conclave/protocol";
import { z } from "zod";

/** Aggregate type of a session token: one event subject per jti. */
export const SESSION_AGGREGATE = "session";

/** A token was issued: who holds it and until when (the revoke route authorizes against it). */
export const sessionIssued = z
  .object({
    jti: tokenId,
    sub: publicKey32,
    tenant: tenantId,
    scopes: z.array(scope).max(32),
    iat: z.number().int().positive(),
    exp: z.number().int().positive(),
  })
  .strict();

/** A token was revoked. It carries what the revoked bucket needs, so the projection reads only the event. */
export const sessionRevoked = z
  .object({
    jti: tokenId,
    sub: publicKey32,
    tenant: tenantId,
    exp: z.number().int().positive(),
    reason: z.string().max(256).optional(),
  })
  .strict();

export type SessionIssued = z.infer<typeof sessionIssued>;
export type SessionRevoked = z.infer<typeof sessionRevoked>;

export const SESSION_EVENT_SCHEMAS = {
  "session.issued": sessionIssued,
  "session.revoked": sessionRevoked,
};

/** An entry of the revoked bucket (key: jti). The bucket's max age (25 h) outlives every token. */
export const revokedToken = z
  .object({
    jti: tokenId,
    sub: publicKey32,
    tenant: tenantId,
    /** The token's own expiry (unix s): after it the entry is moot, and the bucket drops it. */
    exp: z.number().int().positive(),
    revoked_at: z.iso.datetime(),
    by: z.string().min(1).max(128),
  })
  .strict();

export type RevokedToken = z.infer<typeof revokedToken>;
