// What the room routes answer (docs/rooms.md): one definition for the membership service that builds
// the answers and the SDK that reads them.

export type RoomRole = "owner" | "admin" | "member";
export type RoomMode = "e2e" | "clear";

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
