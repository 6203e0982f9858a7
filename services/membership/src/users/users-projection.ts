import { domainEvent, type Projection } from "@conclave/store";
import { evolveUser } from "./user-decider.ts";
import { USER_AGGREGATE, USER_EVENT_SCHEMAS, userRecord } from "./user-events.ts";
import { appendToUserIndex } from "./user-index.ts";

/**
 * users bucket: one entry per sign_pub, the allowlist every service's auth reads;
 * user_index: the users of each tenant in registration order, for listings (user-index.ts).
 */
export const usersProjection: Projection = {
  name: "users",
  aggregateTypes: [USER_AGGREGATE],
  tables: ["users", "userIndex"],
  async apply(stored, tx) {
    const event = domainEvent(USER_EVENT_SCHEMAS, stored);
    if (!event) return;
    const id = event.aggregate.id;
    if (event.type === "user.added") {
      // Added once (decideAddUser), so it needs no state read: its one place in the index (kept
      // whatever follows) first, then the user's entry, which marks the event applied.
      await appendToUserIndex(tx, event.data.tenant, id);
      await tx.put("users", userRecord, id, { ...event.data, status: "active", created_at: event.at });
      return;
    }
    const next = evolveUser(await tx.get("users", userRecord, id), event);
    if (next) await tx.put("users", userRecord, id, next);
  },
};
