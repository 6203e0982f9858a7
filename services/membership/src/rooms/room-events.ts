import { publicKey32, roomId, roomMode, roomRole, sealedKey } from "@conclave/protocol";
import { z } from "zod";

/** Aggregate type of a room: one event subject per room, `conclave.ev.room.<tenant>.<id>` (room-identity.ts). */
export const ROOM_AGGREGATE = "room";

export const roomCreated = z
  .object({
    subject: z.string().min(1).max(256),
    mode: roomMode,
    tenant: z.string(),
    owner: publicKey32,
    owner_kex: publicKey32,
    /** The owner's sealed copy of the epoch-1 key (e2e rooms only). */
    sealed_key: sealedKey.optional(),
  })
  .strict();

export const memberInvited = z
  .object({ member: publicKey32, kex_pub: publicKey32, role: roomRole, sealed_key: sealedKey.optional() })
  .strict();

/**
 * Removing a member (or a member leaving) opens a new key epoch that has no keys until a rekey.
 * `reason: "revoked"`: removed by the revocation sweep because the user was revoked.
 */
export const memberRemoved = z.object({ member: publicKey32, reason: z.literal("revoked").optional() }).strict();

export const roomRekeyed = z
  .object({ epoch: z.number().int().positive(), sealed_keys: z.record(publicKey32, sealedKey) })
  .strict();

export const ROOM_EVENT_SCHEMAS = {
  "room.created": roomCreated,
  "room.member_invited": memberInvited,
  "room.member_removed": memberRemoved,
  "room.rekeyed": roomRekeyed,
};

/** The room as the decider sees it and as the rooms table stores it. */
export const roomState = z.object({
  id: roomId,
  /** Its aggregate on the log: `<tenant>.<id>`, or the bare id of a room created before ids were per tenant. */
  aggregate_id: z.string(),
  subject: z.string(),
  mode: roomMode,
  tenant: z.string(),
  owner: publicKey32,
  /** The current key epoch (starts at 1). */
  epoch: z.number().int().positive(),
  /** The newest epoch whose keys exist; below `epoch` while a rekey is pending (e2e). */
  keyed_epoch: z.number().int().nonnegative(),
  members: z.record(publicKey32, z.object({ role: roomRole, kex_pub: publicKey32 })),
  created_at: z.iso.datetime(),
});
export type RoomState = z.infer<typeof roomState>;

/** member_rooms table entry: key `<member>.<tenant>.<room>` (discovery). */
export const memberRoomEntry = z.object({ room: roomId, role: roomRole });
/** room_keys table entry: key `<tenant>.<room>.<epoch>.<member>`. */
export const roomKeyEntry = z.object({ sealed_key: sealedKey });
/** rooms table entry under a pre-tenant room's bare id: which tenant's room its later events are about. */
export const legacyRoomAlias = z.object({ tenant: z.string() });
