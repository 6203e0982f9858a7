import { z } from "zod";
import { signPublicKeyRef } from "./identity.ts";

// What the room routes take and answer (docs/rooms.md): one definition for the membership service and the SDK.

export const roomId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "room ids are 1-64 characters of [A-Za-z0-9_-]");
export const roomRole = z.enum(["owner", "admin", "member"]);
export type RoomRole = z.infer<typeof roomRole>;
export const roomMode = z.enum(["e2e", "clear"]);
export type RoomMode = z.infer<typeof roomMode>;
/**
 * A room key sealed to one member's kex_pub: opaque to the server. A sealed box of a 32-byte key
 * is 139 characters; 256 at most keeps a rekey of a full room within one NATS message (room-decider.ts).
 */
export const sealedKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,256}$/, "sealed keys are 16-256 characters of unpadded base64url");

/** `POST /v1/rooms` body: the subject defaults to conclave.room.<tenant>.<id> (the rooms decider checks a custom one). */
export const createRoomRequest = z
  .object({
    id: roomId.optional(),
    mode: roomMode,
    subject: z.string().max(256).optional(),
    sealed_key: sealedKey.optional(),
  })
  .strict();
export type CreateRoomRequest = z.input<typeof createRoomRequest>;

// Keys arriving in these bodies go through the weak-key encoding check; a removal
// names any member (shape only), so a member registered before that check can still be removed.

/** `POST /v1/rooms/{id}/members` body. */
export const inviteRequest = z
  .object({
    member: signPublicKeyRef,
    role: z.enum(["admin", "member"]).default("member"),
    sealed_key: sealedKey.optional(),
  })
  .strict();
export type InviteRequest = z.input<typeof inviteRequest>;

/** `POST /v1/rooms/{id}/keys` body: the new epoch's sealed keys, one per remaining member. */
export const rekeyRequest = z
  .object({ epoch: z.number().int().positive(), sealed_keys: z.record(signPublicKeyRef, sealedKey) })
  .strict();
export type RekeyRequest = z.input<typeof rekeyRequest>;

/** A room as one of its members sees it (`POST /v1/rooms`, `GET /v1/rooms/{id}`, invites, removals, rekeys). */
export interface RoomView {
  id: string;
  subject: string;
  mode: RoomMode;
  tenant: string;
  owner: string;
  epoch: number;
  keyed_epoch: number;
  rekey_pending: boolean;
  role?: RoomRole | undefined;
  members: number;
  created_at: string;
}

/** One entry of `GET /v1/rooms/{id}/members`. */
export interface RoomMember {
  member: string;
  role: RoomRole;
  kex_pub: string;
}

/** One entry of `GET /v1/me/rooms`: what a bot needs to join the room. */
export interface MyRoom {
  id: string;
  subject: string;
  epoch: number;
  keyed_epoch: number;
  mode: RoomMode;
  role: RoomRole;
}

/** `GET /v1/rooms/{id}/key`: the caller's own sealed room key at the newest keyed epoch. */
export interface SealedRoomKey {
  epoch: number;
  sealed_key: string;
  rekey_pending: boolean;
}
