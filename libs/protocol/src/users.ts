import { z } from "zod";
import { publicKey32, role, scope, tenantId } from "./identity.ts";

/** `POST /v1/users` body and the data of a `user.added` event. */
export const newUser = z
  .object({
    sign_pub: publicKey32,
    kex_pub: publicKey32,
    tenant: tenantId,
    role,
    scopes: z.array(scope).max(32),
    name: z.string().min(1).max(128).optional(),
  })
  .strict();

export type NewUser = z.infer<typeof newUser>;

/** A user as the allowlist holds it and as the users routes return it. */
export const userRecord = newUser.extend({
  status: z.enum(["active", "revoked"]),
  created_at: z.iso.datetime(),
  revoked_at: z.iso.datetime().optional(),
});

export type UserRecord = z.infer<typeof userRecord>;
