import { publicKey32, role, storedUser } from "@conclave/protocol";
import { z } from "zod";

/** Aggregate type of a user: one event subject per sign_pub. */
export const USER_AGGREGATE = "user";
/** The bootstrap marker: a singleton aggregate whose first event claims "first operator" (`admin`: its key). */
export const BOOTSTRAP_AGGREGATE = { type: "system", id: "bootstrap" } as const;

/** `user.added` carries what `POST /v1/users` registered (keys checked for shape only: old events replay). */
export const userAdded = storedUser;

export const userRevoked = z.object({ reason: z.string().max(256).optional() }).strict();
export const systemBootstrapped = z.object({ admin: publicKey32 }).strict();
/** The bootstrap identity's upgrade from `admin` to `operator` (the only role change there is). */
export const userRoleChanged = z.object({ role }).strict();

export const USER_EVENT_SCHEMAS = {
  "user.added": userAdded,
  "user.revoked": userRevoked,
  "user.role_changed": userRoleChanged,
  "system.bootstrapped": systemBootstrapped,
};

export { type UserRecord, userRecord } from "@conclave/protocol";
