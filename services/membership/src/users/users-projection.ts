import type { Projection } from "@conclave/store";
import { evolveUser } from "./user-decider.ts";
import { USER_AGGREGATE, userRecord } from "./user-events.ts";
import { userIndexEntry, userIndexKey } from "./user-index.ts";

/**
 * users bucket: one entry per sign_pub, the allowlist every service's auth reads;
 * user_index: `<tenant>.<sign_pub>`, for listings by tenant (user-index.ts).
 */
export const usersProjection: Projection = {
  name: "users",
  aggregateTypes: [USER_AGGREGATE],
  tables: ["users", "userIndex"],
  async apply(event, tx) {
    const id = event.aggregate.id;
    const next = evolveUser(await tx.get("users", userRecord, id), event);
    if (!next) return;
    await tx.put("users", userRecord, id, next);
    // Once: a rewrite would move the key to the end of the stream and past a listing's cursor.
    const key = userIndexKey(next.tenant, id);
    if (!(await tx.get("userIndex", userIndexEntry, key))) {
      await tx.put("userIndex", userIndexEntry, key, { sign_pub: id });
    }
  },
};
