import {
  domainEvent,
  type EventLog,
  type KvTable,
  type Projected,
  type Projection,
  type ProjectionRunner,
  type StoredEvent,
} from "@conclave/store";
import type { z } from "zod";
import { userFromLog } from "../users/user-commands.ts";
import { USER_AGGREGATE } from "../users/user-events.ts";
import type { RoomCommands } from "./room-commands.ts";
import { type memberRoomEntry, ROOM_AGGREGATE, ROOM_EVENT_SCHEMAS } from "./room-events.ts";
import { memberRoomsFilter, parseRoomAggregate, roomOfMemberRoomKey } from "./room-identity.ts";

export interface RevocationSweepDeps {
  log: EventLog;
  commands: RoomCommands;
  memberRooms: KvTable<Projected<z.infer<typeof memberRoomEntry>>>;
  /** The rooms projection: the discovery index must hold every room event before a sweep reads it. */
  rooms: ProjectionRunner;
}

/**
 * Revocation reaches rooms (issue 15: a revoked user stayed a member and kept
 * the room key). Driven by the committed log, not by the revoke request: a
 * durable consumer of user and room events (the projection runner, strictly
 * in order, acked after the work is done) that
 *   - on `user.revoked`, removes the user from every room it is in;
 *   - on `room.member_invited` of a user already revoked (an invite decided
 *     on the allowlist just before the revocation), removes it again.
 * Each removal is a room command decided on the room's current snapshot: a
 * member already gone is a no-op, so a redelivery after a crash between two
 * rooms finishes the rest and repeats nothing. A removal opens a new key
 * epoch (rekey pending) and deletes the member's sealed key (rooms projection).
 */
export function revocationSweep(deps: RevocationSweepDeps): Projection {
  const isRevoked = async (signPub: string) => {
    // From the log, not the users table: authoritative even if that projection lags.
    const { state } = await userFromLog(deps.log, signPub);
    return state?.status === "revoked" ? state : undefined;
  };
  return {
    name: "room_revocations",
    aggregateTypes: [USER_AGGREGATE, ROOM_AGGREGATE],
    tables: [],
    async apply(stored: StoredEvent) {
      if (stored.type === "user.revoked") {
        const user = await isRevoked(stored.aggregate.id);
        if (!user) return;
        await deps.rooms.caughtUp();
        const keys = await deps.memberRooms.keys(memberRoomsFilter(user.sign_pub, user.tenant));
        for (const k of keys) {
          await deps.commands.removeRevoked(roomOfMemberRoomKey(user.sign_pub, user.tenant, k), user.sign_pub);
        }
        return;
      }
      const event = domainEvent(ROOM_EVENT_SCHEMAS, stored);
      if (event?.type === "room.member_invited") {
        const { member } = event.data;
        const user = await isRevoked(member);
        if (!user) return;
        // An invitee is always of the room's tenant, which names a room of before per-tenant ids too.
        const ref = parseRoomAggregate(event.aggregate.id);
        await deps.commands.removeRevoked("legacy" in ref ? { tenant: user.tenant, id: ref.legacy } : ref, member);
      }
    },
  };
}
