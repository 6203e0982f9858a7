import { domainEvent, type Projected, type Projection, type ProjectionWriter, UnavailableError } from "@conclave/store";
import { evolveRoom, type RoomEvent } from "./room-decider.ts";
import type { RoomState } from "./room-events.ts";
import {
  legacyRoomAlias,
  memberEntry,
  memberRoomEntry,
  ROOM_AGGREGATE,
  ROOM_EVENT_SCHEMAS,
  roomKeyEntry,
  roomState,
} from "./room-events.ts";
import { memberKey, memberRoomKey, parseRoomAggregate, type RoomRef, roomKey, roomKeyKey } from "./room-identity.ts";

/**
 * Which room an event is about. A room created before ids were per tenant
 * has a bare aggregate id: its `room.created` names its tenant, which an alias
 * entry under the bare id remembers for its later events; it is projected
 * under `<tenant>.<id>` like every other room (docs/rooms.md, migration).
 */
async function roomOf(event: RoomEvent, tx: ProjectionWriter): Promise<RoomRef | undefined> {
  const ref = parseRoomAggregate(event.aggregate.id);
  if (!("legacy" in ref)) return ref;
  if (event.type === "room.created") {
    const { tenant } = event.data;
    await tx.put("rooms", legacyRoomAlias, ref.legacy, { tenant });
    return { tenant, id: ref.legacy };
  }
  const alias = await tx.get("rooms", legacyRoomAlias, ref.legacy);
  return alias && { tenant: alias.tenant, id: ref.legacy };
}

/**
 * Room read models: the room snapshot (rooms), membership (members), the
 * reverse index for discovery (member_rooms) and sealed keys (room_keys), all
 * keyed by (tenant, id). Room commands apply their own event inline
 * (`applyRoomEvent`); the runner applies the log in order for convergence
 * (an event whose command died before applying it) and rebuilds, skipping
 * what is applied.
 */
export const roomsProjection: Projection = {
  name: "rooms",
  aggregateTypes: [ROOM_AGGREGATE],
  tables: ["rooms", "members", "memberRooms", "roomKeys"],
  async apply(stored, tx) {
    const event = domainEvent(ROOM_EVENT_SCHEMAS, stored);
    if (!event) return;
    const ref = await roomOf(event, tx);
    if (!ref) return;
    await applyRoomEvent(tx, ref, await tx.entry("rooms", roomState, roomKey(ref)), event);
  },
};

/**
 * Applies one room event: a plan computed from the snapshot before the event
 * (`before`, which must be at the version the event was decided on), every
 * write guarded by the event's sequence, the snapshot written LAST as the
 * commit marker. A snapshot at or past the event means every write of its
 * plan is done, so a second applier (the runner after a command, a replica
 * catching up) does nothing; one killed between two writes left the snapshot
 * before the event, so the next applier computes the same plan again.
 */
export async function applyRoomEvent(
  tx: ProjectionWriter,
  ref: RoomRef,
  before: Projected<RoomState> | undefined,
  event: RoomEvent,
): Promise<void> {
  const at = before?.seq ?? 0;
  if (at >= event.seq) return;
  // Another state than the one decided on would give another plan (e.g. a key at the wrong epoch).
  if (before && at !== event.prev) {
    throw new UnavailableError(`room ${roomKey(ref)} at ${at}: event ${event.seq} follows ${event.prev}`);
  }
  const after = evolveRoom(before?.data, event);
  if (!after) return;
  const member = (m: string, role: "owner" | "admin" | "member", kex_pub: string) =>
    Promise.all([
      tx.put("members", memberEntry, memberKey(ref, m), {
        tenant: ref.tenant,
        room: ref.id,
        member: m,
        role,
        kex_pub,
      }),
      tx.put("memberRooms", memberRoomEntry, memberRoomKey(m, ref), { room: ref.id, role }),
    ]);
  switch (event.type) {
    case "room.created": {
      const d = event.data;
      await member(d.owner, "owner", d.owner_kex);
      if (d.sealed_key)
        await tx.put("roomKeys", roomKeyEntry, roomKeyKey(ref, 1, d.owner), { sealed_key: d.sealed_key });
      break;
    }
    case "room.member_invited": {
      const d = event.data;
      await member(d.member, d.role, d.kex_pub);
      if (d.sealed_key) {
        await tx.put("roomKeys", roomKeyEntry, roomKeyKey(ref, after.keyed_epoch, d.member), {
          sealed_key: d.sealed_key,
        });
      }
      break;
    }
    case "room.member_removed": {
      const m = event.data.member;
      await tx.delete("members", memberKey(ref, m));
      await tx.delete("memberRooms", memberRoomKey(m, ref));
      // Its copy of the current key goes too: a removed (or revoked) member keeps nothing servable.
      await tx.delete("roomKeys", roomKeyKey(ref, after.keyed_epoch, m));
      break;
    }
    case "room.rekeyed": {
      const d = event.data;
      for (const [m, sealed] of Object.entries(d.sealed_keys)) {
        await tx.put("roomKeys", roomKeyEntry, roomKeyKey(ref, d.epoch, m), { sealed_key: sealed });
      }
      break;
    }
  }
  // Last: the commit marker of everything above.
  await tx.put("rooms", roomState, roomKey(ref), after);
}
