import { newUser, publicKey32 } from "@conclave/protocol";
import { z } from "zod";

/** Aggregate type of a user: one event subject per sign_pub. */
export const USER_AGGREGATE = "user";
/** The bootstrap marker: a singleton aggregate whose first event claims "first admin". */
export const BOOTSTRAP_AGGREGATE = { type: "system", id: "bootstrap" } as const;

/** `user.added` carries exactly what `POST /v1/users` registered. */
export const userAdded = newUser;

export const userRevoked = z.object({ reason: z.string().max(256).optional() }).strict();
export const systemBootstrapped = z.object({ admin: publicKey32 }).strict();

export const USER_EVENT_SCHEMAS = {
  "user.added": userAdded,
  "user.revoked": userRevoked,
  "system.bootstrapped": systemBootstrapped,
};

export { type UserRecord, userRecord } from "@conclave/protocol";
