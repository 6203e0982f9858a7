import type { RoomRole } from "@conclave/protocol";
import {
  domainEvent,
  NEW_KEY,
  type Projected,
  type Projection,
  type ProjectionWriter,
  UnavailableError,
} from "@conclave/store";
import { evolveRoom, type RoomEvent } from "./room-decider.ts";
import type { RoomState } from "./room-events.ts";
import {
  legacyRoomAlias,
  memberRoomEntry,
  ROOM_AGGREGATE,
  ROOM_EVENT_SCHEMAS,
  roomKeyEntry,
  roomState,
} from "./room-events.ts";
import { memberRoomKey, parseRoomAggregate, type RoomRef, roomKey, roomKeyKey } from "./room-identity.ts";

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
 * Room read models: the room snapshot (rooms, which holds its members), the
 * reverse index for discovery and admission (member_rooms) and sealed keys
 * (room_keys), all keyed by (tenant, id). Room commands apply their own event inline
 * (`applyRoomEvent`); the runner applies the log in order for convergence
 * (an event whose command died before applying it) and rebuilds, skipping
 * what is applied.
 */
export const roomsProjection: Projection = {
  name: "rooms",
  aggregateTypes: [ROOM_AGGREGATE],
  tables: ["rooms", "memberRooms", "roomKeys"],
  async apply(stored, tx) {
    const event = domainEvent(ROOM_EVENT_SCHEMAS, stored);
    if (!event) return;
    const ref = await roomOf(event, tx);
    if (!ref) return;
    await applyRoomEvent(tx, ref, await tx.entry("rooms", roomState, roomKey(ref)), event);
  },
};

/** The room snapshot an event is applied on; `revision` is its KV revision when it was read as it is. */
export type RoomSnapshot = Projected<RoomState> & { revision?: number };

/**
 * Applies one room event: a plan computed from the snapshot before the event
 * (`before`, which must be at the version the event was decided on), every
 * write guarded by the event's sequence, the snapshot written LAST as the
 * commit marker. A snapshot at or past the event means every write of its
 * plan is done, so a second applier (the runner after a command, a replica
 * catching up) does nothing; one killed between two writes left the snapshot
 * before the event, so the next applier computes the same plan again. The
 * writes before the snapshot go out together (their order commits nothing),
 * and a key the state before the event does not have is written without
 * reading it first (ProjectionWriter.put, `known`).
 */
export async function applyRoomEvent(
  tx: ProjectionWriter,
  ref: RoomRef,
  before: RoomSnapshot | undefined,
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
  await Promise.all(planWrites(tx, ref, before?.data, after, event));
  // Last: the commit marker of everything above.
  await tx.put("rooms", roomState, roomKey(ref), after, before ? before.revision : NEW_KEY);
}

/** The read-model writes of one event, the snapshot's excepted. */
function planWrites(
  tx: ProjectionWriter,
  ref: RoomRef,
  before: RoomState | undefined,
  after: RoomState,
  event: RoomEvent,
): Promise<void>[] {
  // A member the room did not have has no entries yet (unless it left within the marker TTL: then the guess misses).
  const fresh = (m: string) => (before?.members[m] ? undefined : NEW_KEY);
  const memberRoom = (m: string, role: RoomRole) =>
    tx.put("memberRooms", memberRoomEntry, memberRoomKey(m, ref), { room: ref.id, role }, fresh(m));
  const sealedKey = (epoch: number, m: string, sealed_key: string, known: number | undefined) =>
    tx.put("roomKeys", roomKeyEntry, roomKeyKey(ref, epoch, m), { sealed_key }, known);
  switch (event.type) {
    case "room.created": {
      const d = event.data;
      return [memberRoom(d.owner, "owner"), ...(d.sealed_key ? [sealedKey(1, d.owner, d.sealed_key, NEW_KEY)] : [])];
    }
    case "room.member_invited": {
      const d = event.data;
      const sealed = d.sealed_key ? [sealedKey(after.keyed_epoch, d.member, d.sealed_key, fresh(d.member))] : [];
      return [memberRoom(d.member, d.role), ...sealed];
    }
    case "room.member_removed": {
      const m = event.data.member;
      return [
        tx.delete("memberRooms", memberRoomKey(m, ref)),
        // Its copy of the current key goes too: a removed (or revoked) member keeps nothing servable.
        tx.delete("roomKeys", roomKeyKey(ref, after.keyed_epoch, m)),
      ];
    }
    case "room.rekeyed": {
      const d = event.data;
      // A new epoch: none of its keys exists yet.
      return Object.entries(d.sealed_keys).map(([m, sealed]) => sealedKey(d.epoch, m, sealed, NEW_KEY));
    }
  }
}
