import type { Projection } from "@conclave/store";
import { evolveUser } from "./user-decider.ts";
import { USER_AGGREGATE, userRecord } from "./user-events.ts";

/** users bucket: one entry per sign_pub, the allowlist every service's auth reads. */
export const usersProjection: Projection = {
  name: "users",
  aggregateTypes: [USER_AGGREGATE],
  tables: ["users"],
  async apply(event, tx) {
    const id = event.aggregate.id;
    const next = evolveUser(await tx.get("users", userRecord, id), event);
    if (next) await tx.put("users", userRecord, id, next);
  },
};
