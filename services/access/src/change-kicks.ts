import { publicKey32 } from "@conclave/protocol";
import { z } from "zod";

/** The read-model tables the callout decides on: a change to any of them can change an admission. */
export const WATCHED_TABLES = ["users", "memberRooms", "rooms"] as const;
export type WatchedTable = (typeof WATCHED_TABLES)[number];

/** One committed write to a watched table, as its KV stream carries it. */
export interface TableChange {
  table: WatchedTable;
  key: string;
  /** A delete or purge (KV-Operation header): no value. */
  removed: boolean;
  value: Uint8Array;
}

// Only the field read here: services/membership owns the user record.
const userStatus = z.object({ data: z.object({ status: z.string() }) });
const jsonOrUndefined = (bytes: Uint8Array): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
};
const signPub = (s: string | undefined) => (s !== undefined && publicKey32.safeParse(s).success ? s : undefined);

/**
 * Whose connections a change makes stale, known from the change alone; a
 * deleted room needs its member list (`roomMembersKey`). A member added to a
 * room is kicked too, so it reconnects with the room (no restart). A user
 * put back to active, or a room snapshot rewritten, needs nothing: what each
 * means for a member comes as a member_rooms change. A key that does not hold
 * a sign_pub where one belongs is nobody's (corruption is not a reason to kick
 * at random, and the callout refuses what it cannot read).
 */
export function kicksOfChange(change: TableChange): string[] {
  switch (change.table) {
    case "users": {
      const who = signPub(change.key);
      if (!who) return [];
      if (change.removed) return [who];
      const parsed = userStatus.safeParse(jsonOrUndefined(change.value));
      // A record we cannot read: the callout refuses it, so its connections go too.
      return !parsed.success || parsed.data.data.status !== "active" ? [who] : [];
    }
    case "memberRooms": {
      const who = memberOfMemberRoomKey(change.key);
      return who ? [who] : [];
    }
    case "rooms":
      return [];
  }
}

/**
 * The member_rooms filter for a deleted room's members (`*.<tenant>.<room>`; room ids
 * hold no dot), when the change is a room's deletion; a legacy alias (a bare id) is not a room.
 */
export function deletedRoomMembersFilter(change: TableChange): string | undefined {
  return change.table === "rooms" && change.removed && change.key.includes(".") ? `*.${change.key}` : undefined;
}

/** The member a member_rooms key (`<member>.<tenant>.<room>`, services/membership room-identity.ts) names. */
export const memberOfMemberRoomKey = (key: string) => signPub(key.split(".")[0]);
