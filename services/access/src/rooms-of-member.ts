import { projected, type Store } from "@conclave/store";
import { z } from "zod";
import type { MemberRoom } from "./bot-permissions.ts";

/**
 * The rooms a bot is a member of, with their subjects: the one question the
 * callout asks of the membership read models, behind this narrow seam so
 * their key shapes (services/membership/src/rooms/room-identity.ts) stay theirs.
 */
export type RoomsOfMember = (signPub: string, atMost?: number) => Promise<MemberRoom[]>;

/** Room snapshots read at once while confirming candidates. */
const BATCH = 256;

// Only the fields read here: the membership service owns the full schema of the room snapshot.
const roomSnapshot = projected(
  z.object({ id: z.string(), subject: z.string(), members: z.record(z.string(), z.unknown()) }),
);

/**
 * From the projections: candidates from the reverse index
 * `member.<tenant>.<room>` (the stream leader's subject index, deleted
 * entries included; `>` also finds a room stored before ids were per tenant), each
 * confirmed in the room's snapshot, the source of truth for membership.
 * Leader reads only; the caller confirms them with a witness write.
 */
export function storeRoomsOfMember(store: Store): RoomsOfMember {
  const memberRooms = store.table("memberRooms", z.unknown());
  const rooms = store.table("rooms", roomSnapshot);
  return async (signPub, atMost = Number.POSITIVE_INFINITY) => {
    const keys = await memberRooms.keysWithHistory(`${signPub}.>`);
    const found: MemberRoom[] = [];
    // A bot in more than `atMost` rooms is refused: once that is known, the other candidates are
    // not read (`atMost + 1` rooms come back), so its refusal costs the bound's reads, not its rooms'.
    for (let i = 0; i < keys.length && found.length <= atMost; i += BATCH) {
      const batch = await Promise.all(
        keys.slice(i, i + BATCH).map(async (key) => {
          const room = (await rooms.get(key.slice(signPub.length + 1)))?.value.data;
          return room && Object.hasOwn(room.members, signPub) ? { id: room.id, subject: room.subject } : undefined;
        }),
      );
      for (const r of batch) if (r) found.push(r);
    }
    return found.slice(0, atMost + 1);
  };
}
