import type { Projection, ProjectionWriter, StoredEvent } from "@conclave/store";
import type { z } from "zod";
import { evolveRoom } from "./room-decider.ts";
import {
  legacyRoomAlias,
  memberEntry,
  type memberInvited,
  memberRoomEntry,
  ROOM_AGGREGATE,
  type roomCreated,
  roomKeyEntry,
  type roomRekeyed,
  roomState,
} from "./room-events.ts";
import { memberKey, memberRoomKey, parseRoomAggregate, type RoomRef, roomKey, roomKeyKey } from "./room-identity.ts";

/**
 * Which room an event is about. A room created before ids were per tenant
 * has a bare aggregate id: its `room.created` names its tenant, which an alias
 * entry under the bare id remembers for its later events; it is projected
 * under `<tenant>.<id>` like every other room (docs/rooms.md, migration).
 */
async function roomOf(event: StoredEvent, tx: ProjectionWriter): Promise<RoomRef | undefined> {
  const ref = parseRoomAggregate(event.aggregate.id);
  if (!("legacy" in ref)) return ref;
  if (event.type === "room.created") {
    const { tenant } = event.data as z.infer<typeof roomCreated>;
    await tx.put("rooms", legacyRoomAlias, ref.legacy, { tenant });
    return { tenant, id: ref.legacy };
  }
  const alias = await tx.get("rooms", legacyRoomAlias, ref.legacy);
  return alias && { tenant: alias.tenant, id: ref.legacy };
}

/**
 * Room read models: the room snapshot (rooms), membership (members), the
 * reverse index for discovery (member_rooms) and sealed keys (room_keys), all
 * keyed by (tenant, id). Events apply in log order (ProjectionRunner), so each
 * derived entry is written from the snapshot before and after the event.
 */
export const roomsProjection: Projection = {
  name: "rooms",
  aggregateTypes: [ROOM_AGGREGATE],
  tables: ["rooms", "members", "memberRooms", "roomKeys"],
  async apply(event, tx) {
    const ref = await roomOf(event, tx);
    if (!ref) return;
    const key = roomKey(ref);
    const snapshot = await tx.entry("rooms", roomState, key);
    // A redelivered event (crash after the snapshot write, before the ack) is already in the
    // snapshot: evolving it again would, e.g., bump the epoch twice. Derived writes still run.
    const after = snapshot && snapshot.seq >= event.seq ? snapshot.data : evolveRoom(snapshot?.data, event);
    if (!after) return;
    await tx.put("rooms", roomState, key, after);
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
        const d = event.data as z.infer<typeof roomCreated>;
        await member(d.owner, "owner", d.owner_kex);
        if (d.sealed_key)
          await tx.put("roomKeys", roomKeyEntry, roomKeyKey(ref, 1, d.owner), { sealed_key: d.sealed_key });
        return;
      }
      case "room.member_invited": {
        const d = event.data as z.infer<typeof memberInvited>;
        await member(d.member, d.role, d.kex_pub);
        if (d.sealed_key) {
          await tx.put("roomKeys", roomKeyEntry, roomKeyKey(ref, after.keyed_epoch, d.member), {
            sealed_key: d.sealed_key,
          });
        }
        return;
      }
      case "room.member_removed": {
        const { member: m } = event.data as { member: string };
        await tx.delete("members", memberKey(ref, m));
        await tx.delete("memberRooms", memberRoomKey(m, ref));
        // Its copy of the current key goes too: a removed (or revoked) member keeps nothing servable.
        await tx.delete("roomKeys", roomKeyKey(ref, after.keyed_epoch, m));
        return;
      }
      case "room.rekeyed": {
        const d = event.data as z.infer<typeof roomRekeyed>;
        for (const [m, sealed] of Object.entries(d.sealed_keys)) {
          await tx.put("roomKeys", roomKeyEntry, roomKeyKey(ref, d.epoch, m), { sealed_key: sealed });
        }
        return;
      }
    }
  },
};
