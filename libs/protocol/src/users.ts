import { z } from "zod";
import { kexPublicKey, publicKey32, role, scope, signPublicKey, tenantId } from "./identity.ts";

/**
 * A user as stored (the data of a `user.added` event): keys checked for shape
 * only, so events stored before the weak-key rule still replay.
 */
export const storedUser = z
  .object({
    sign_pub: publicKey32,
    kex_pub: publicKey32,
    tenant: tenantId,
    role,
    scopes: z.array(scope).max(32),
    name: z.string().min(1).max(128).optional(),
  })
  .strict();

/** `POST /v1/users` body: what may be registered now (weak keys refused, 400 naming the field). */
export const newUser = storedUser.extend({ sign_pub: signPublicKey, kex_pub: kexPublicKey }).strict();

export type NewUser = z.infer<typeof newUser>;

/** A user as the allowlist holds it and as the users routes return it. */
export const userRecord = storedUser.extend({
  status: z.enum(["active", "revoked"]),
  created_at: z.iso.datetime(),
  revoked_at: z.iso.datetime().optional(),
});

export type UserRecord = z.infer<typeof userRecord>;
