import type { Projection } from "@conclave/store";
import type { z } from "zod";
import { evolveRoom } from "./room-decider.ts";
import {
  memberEntry,
  type memberInvited,
  memberRoomEntry,
  ROOM_AGGREGATE,
  type roomCreated,
  roomKeyEntry,
  type roomRekeyed,
  roomState,
} from "./room-events.ts";

export const memberKey = (room: string, member: string) => `${room}.${member}`;
export const memberRoomKey = (member: string, room: string) => `${member}.${room}`;
export const roomKeyKey = (room: string, epoch: number, member: string) => `${room}.${epoch}.${member}`;

/**
 * Room read models: the room snapshot (rooms), membership (members), the
 * reverse index for discovery (member_rooms) and sealed keys (room_keys).
 * Events apply in log order (ProjectionRunner), so each derived entry is
 * written from the snapshot before and after the event.
 */
export const roomsProjection: Projection = {
  name: "rooms",
  aggregateTypes: [ROOM_AGGREGATE],
  tables: ["rooms", "members", "memberRooms", "roomKeys"],
  async apply(event, tx) {
    const id = event.aggregate.id;
    const snapshot = await tx.entry("rooms", roomState, id);
    // A redelivered event (crash after the snapshot write, before the ack) is already in the
    // snapshot: evolving it again would, e.g., bump the epoch twice. Derived writes still run.
    const after = snapshot && snapshot.seq >= event.seq ? snapshot.data : evolveRoom(snapshot?.data, event);
    if (!after) return;
    await tx.put("rooms", roomState, id, after);
    switch (event.type) {
      case "room.created": {
        const d = event.data as z.infer<typeof roomCreated>;
        await tx.put("members", memberEntry, memberKey(id, d.owner), {
          room: id,
          member: d.owner,
          role: "owner",
          kex_pub: d.owner_kex,
        });
        await tx.put("memberRooms", memberRoomEntry, memberRoomKey(d.owner, id), { room: id, role: "owner" });
        if (d.sealed_key)
          await tx.put("roomKeys", roomKeyEntry, roomKeyKey(id, 1, d.owner), { sealed_key: d.sealed_key });
        return;
      }
      case "room.member_invited": {
        const d = event.data as z.infer<typeof memberInvited>;
        await tx.put("members", memberEntry, memberKey(id, d.member), {
          room: id,
          member: d.member,
          role: d.role,
          kex_pub: d.kex_pub,
        });
        await tx.put("memberRooms", memberRoomEntry, memberRoomKey(d.member, id), { room: id, role: d.role });
        if (d.sealed_key) {
          await tx.put("roomKeys", roomKeyEntry, roomKeyKey(id, after.keyed_epoch, d.member), {
            sealed_key: d.sealed_key,
          });
        }
        return;
      }
      case "room.member_removed": {
        const { member } = event.data as { member: string };
        await tx.delete("members", memberKey(id, member));
        await tx.delete("memberRooms", memberRoomKey(member, id));
        return;
      }
      case "room.rekeyed": {
        const d = event.data as z.infer<typeof roomRekeyed>;
        for (const [member, sealed] of Object.entries(d.sealed_keys)) {
          await tx.put("roomKeys", roomKeyEntry, roomKeyKey(id, d.epoch, member), { sealed_key: sealed });
        }
        return;
      }
    }
  },
};
