import { ApiError, newUser, type Role } from "@conclave/protocol";
import type { Decided, Decider, DomainEvent } from "@conclave/store";
import type { z } from "zod";
import { USER_EVENT_SCHEMAS, type UserRecord, type userAdded } from "./user-events.ts";

// Who may do what with users, in one place. Pure: no I/O, no clock.
// Operators manage every tenant; an admin manages its own tenant only and
// learns nothing about the others (issue 15: an admin of A created an admin in B).

export type AddUserInput = z.infer<typeof userAdded>;

export interface Actor {
  signPub: string;
  role: Role;
  tenant: string;
}

/** A user (or bootstrap marker) event decided, not stored yet; one as stored, typed by its type. */
export type Decision = Decided<typeof USER_EVENT_SCHEMAS>;
export type UserEvent = DomainEvent<typeof USER_EVENT_SCHEMAS>;

/** May this actor manage the users of `tenant`? */
export function managesTenant(actor: Actor, tenant: string): boolean {
  return actor.role === "operator" || (actor.role === "admin" && actor.tenant === tenant);
}

/** Operators add anyone anywhere; an admin adds admins and members to its own tenant; a key registers once. */
export function decideAddUser(actor: Actor, existing: UserRecord | undefined, input: AddUserInput): Decision {
  if (actor.role === "member") throw new ApiError("forbidden", "only admins add users");
  if (!managesTenant(actor, input.tenant))
    throw new ApiError("forbidden", "tenant: admins add users to their own tenant only");
  if (input.role === "operator" && actor.role !== "operator")
    throw new ApiError("forbidden", "role: only an operator creates operators");
  // Every way in goes through the one key check (weak keys: 400 naming the field).
  const data = newUser.parse(input);
  if (existing) throw new ApiError("conflict", "a user with this sign_pub already exists");
  return { type: "user.added", data };
}

/** The tenant's admins and operators revoke; admins never revoke an operator; revoking twice is a conflict. */
export function decideRevokeUser(actor: Actor, existing: UserRecord | undefined, reason?: string): Decision {
  if (actor.role === "member") throw new ApiError("forbidden", "only admins revoke users");
  if (!existing || !managesTenant(actor, existing.tenant)) throw new ApiError("not_found", "no such user");
  if (existing.role === "operator" && actor.role !== "operator")
    throw new ApiError("forbidden", "only an operator revokes an operator");
  if (existing.status === "revoked") throw new ApiError("conflict", "the user is already revoked");
  return { type: "user.revoked", data: reason ? { reason } : {} };
}

/**
 * The upgrade of a bootstrap identity created before the operator role (as an
 * admin): it becomes the operator. Decided only for the user the bootstrap
 * marker names (the caller checks); idempotent: an operator stays as it is.
 */
export function decideBootstrapUpgrade(existing: UserRecord): Decision | undefined {
  if (existing.status !== "active") throw new ApiError("conflict", "the bootstrap identity is revoked");
  if (existing.role === "operator") return undefined;
  return { type: "user.role_changed", data: { role: "operator" } };
}

/** The bootstrap identity: added once (its keys checked like any other), else upgraded if need be. */
export function decideBootstrap(existing: UserRecord | undefined, input: AddUserInput): Decision | undefined {
  return existing ? decideBootstrapUpgrade(existing) : { type: "user.added", data: newUser.parse(input) };
}

/** A user may read itself; admins read their tenant's users; operators everyone. Others: 404. */
export function mayReadUser(actor: Actor, user: Pick<UserRecord, "sign_pub" | "tenant">): boolean {
  return actor.signPub === user.sign_pub || managesTenant(actor, user.tenant);
}

/** The allowlist entry after an event. */
export function evolveUser(state: UserRecord | undefined, event: UserEvent): UserRecord | undefined {
  switch (event.type) {
    case "user.added":
      return { ...event.data, status: "active", created_at: event.at };
    case "user.revoked":
      return state ? { ...state, status: "revoked", revoked_at: event.at } : state;
    case "user.role_changed":
      return state ? { ...state, role: event.data.role } : state;
    default:
      return state;
  }
}

/** A users command, with the actor that asks (the bootstrap has none yet). */
export type UserCommand =
  | { kind: "add"; actor: Actor; input: AddUserInput }
  | { kind: "revoke"; actor: Actor; reason?: string | undefined }
  | { kind: "bootstrap"; input: AddUserInput };

/** A user aggregate (one per sign_pub) as a decider. */
export const userDecider: Decider<UserCommand, UserRecord | undefined, typeof USER_EVENT_SCHEMAS> = {
  schemas: USER_EVENT_SCHEMAS,
  initialState: undefined,
  decide(command, state) {
    switch (command.kind) {
      case "add":
        return decideAddUser(command.actor, state, command.input);
      case "revoke":
        return decideRevokeUser(command.actor, state, command.reason);
      case "bootstrap":
        return decideBootstrap(state, command.input);
    }
  },
  evolve: evolveUser,
};

/**
 * The bootstrap marker (a singleton aggregate): its first event claims "first
 * operator" for one key. Claiming it again for the same key is nothing to do
 * (a bootstrap interrupted between its two appends is completed by retrying);
 * for another key, a conflict.
 */
export const bootstrapDecider: Decider<{ admin: string }, string | undefined, typeof USER_EVENT_SCHEMAS> = {
  schemas: USER_EVENT_SCHEMAS,
  initialState: undefined,
  decide({ admin }, claimed) {
    if (claimed === undefined) return { type: "system.bootstrapped", data: { admin } };
    if (claimed !== admin) throw new ApiError("conflict", "Conclave is already bootstrapped with another identity");
    return undefined;
  },
  evolve: (claimed, event) => (event.type === "system.bootstrapped" ? (claimed ?? event.data.admin) : claimed),
};
