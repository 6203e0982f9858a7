import { ApiError } from "@conclave/protocol";
import type { StoredEvent } from "@conclave/store";
import type { z } from "zod";
import type { UserRecord, userAdded } from "./user-events.ts";

// Who may do what with users, in one place. Pure: no I/O, no clock.

export type AddUserInput = z.infer<typeof userAdded>;

export interface Actor {
  signPub: string;
  role: "admin" | "member";
}

export interface Decision {
  type: string;
  data: unknown;
}

/** Only admins add users; a key registers once. */
export function decideAddUser(actor: Actor, existing: UserRecord | undefined, input: AddUserInput): Decision {
  if (actor.role !== "admin") throw new ApiError("forbidden", "only admins add users");
  if (existing) throw new ApiError("conflict", "a user with this sign_pub already exists");
  return { type: "user.added", data: input };
}

/** Only admins revoke; revoking twice is a conflict, not a silent success. */
export function decideRevokeUser(actor: Actor, existing: UserRecord | undefined, reason?: string): Decision {
  if (actor.role !== "admin") throw new ApiError("forbidden", "only admins revoke users");
  if (!existing) throw new ApiError("not_found", "no such user");
  if (existing.status === "revoked") throw new ApiError("conflict", "the user is already revoked");
  return { type: "user.revoked", data: reason ? { reason } : {} };
}

/** A user may read itself; admins read everyone. */
export function mayReadUser(actor: Actor, signPub: string): boolean {
  return actor.role === "admin" || actor.signPub === signPub;
}

/** The allowlist entry after an event. */
export function evolveUser(state: UserRecord | undefined, event: StoredEvent): UserRecord | undefined {
  switch (event.type) {
    case "user.added":
      return { ...(event.data as AddUserInput), status: "active", created_at: event.at };
    case "user.revoked":
      return state ? { ...state, status: "revoked", revoked_at: event.at } : state;
    default:
      return state;
  }
}
