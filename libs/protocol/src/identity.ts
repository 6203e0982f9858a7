import { z } from "zod";

/** Tenant ids: lowercase, no dots or slashes (they become subject tokens and path parts). */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const tenantId = z.string().regex(TENANT_PATTERN, "tenant must match ^[a-z0-9][a-z0-9_-]{0,62}$");

/** A raw 32-byte key in unpadded base64url (`sign_pub`, `kex_pub`, `keyid`): exactly 43 characters. */
export const publicKey32 = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, "must be a 32-byte key in unpadded base64url (43 characters)")
  .refine((s) => Buffer.from(s, "base64url").toString("base64url") === s, "must be canonical base64url");

export const role = z.enum(["admin", "member"]);
export const scope = z.string().regex(/^[a-z][a-z0-9_.:-]{0,63}$/, "scopes are lowercase words such as rooms:write");
