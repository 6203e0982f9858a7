import type { Projection } from "@conclave/store";
import { revokedToken, SESSION_AGGREGATE, sessionRevoked } from "./session-events.ts";

/**
 * revoked bucket: one entry per revoked jti, from `session.revoked` events.
 * The revoke command applies it itself right after the append (so the
 * revocation is in force when the route answers); the runner applies it again
 * as the durable path, a no-op by sequence.
 */
export const revocationsProjection: Projection = {
  name: "revocations",
  aggregateTypes: [SESSION_AGGREGATE],
  tables: ["revoked"],
  async apply(event, tx) {
    if (event.type !== "session.revoked") return;
    const data = sessionRevoked.parse(event.data);
    await tx.put("revoked", revokedToken, data.jti, {
      jti: data.jti,
      sub: data.sub,
      tenant: data.tenant,
      exp: data.exp,
      revoked_at: event.at,
      by: event.actor,
    });
  },
};
