import type { UserRecord } from "@conclave/protocol";

export type { UserRecord };

export interface RoomView {
  id: string;
  subject: string;
  mode: "e2e" | "clear";
  tenant: string;
  owner: string;
  epoch: number;
  keyed_epoch: number;
  rekey_pending: boolean;
  role?: "owner" | "admin" | "member";
  members: number;
  created_at: string;
}

export interface RoomMember {
  member: string;
  role: "owner" | "admin" | "member";
  kex_pub: string;
}

export interface MyRoom {
  id: string;
  subject: string;
  epoch: number;
  keyed_epoch: number;
  mode: "e2e" | "clear";
  role: "owner" | "admin" | "member";
}

export interface SealedRoomKey {
  epoch: number;
  sealed_key: string;
  rekey_pending: boolean;
}

export interface BlobRef {
  sha256: string;
  size: number;
}

export interface Session {
  token: string;
  jti: string;
  expires_at: string;
}
