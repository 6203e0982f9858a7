import { ApiError, ownValue, type RoomRole } from "@conclave/protocol";
import type { Decided, Decider, DomainEvent } from "@conclave/store";
import type { z } from "zod";
import { type memberInvited, ROOM_EVENT_SCHEMAS, type RoomState, type roomCreated } from "./room-events.ts";
import { parseRoomAggregate, type RoomRef, roomSubject } from "./room-identity.ts";

// Who may do what in a room, in one place. Pure: no I/O, no clock.

export interface RoomActor {
  signPub: string;
  kexPub: string;
  tenant: string;
}

/** A room event decided, not stored yet; a room event as stored (typed by its type). */
export type Decision = Decided<typeof ROOM_EVENT_SCHEMAS>;
export type RoomEvent = DomainEvent<typeof ROOM_EVENT_SCHEMAS>;

type Invite = z.infer<typeof memberInvited>;

const roleOf = (room: RoomState, member: string): RoomRole | undefined => ownValue(room.members, member)?.role;
const rank: Record<RoomRole, number> = { owner: 3, admin: 2, member: 1 };

/**
 * Members a room may have (docs/rooms.md, "Limits"). A room is one snapshot, a value of
 * conclave_rooms (at most 256 KiB), and a rekey one event of the log (at most 1 MiB, a message)
 * carrying a sealed key per member. At this bound, worst case (every sealed key at its
 * 256-character maximum, the longest subject): the snapshot ≈ 123 KB, a rekey event ≈ 312 KB,
 * each under half its limit (room-decider.test.ts computes both).
 */
export const MAX_ROOM_MEMBERS = 1024;

const subjectTokens = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64})*$/;

/** The subject a new room gets: the default, or a custom one below it (under the tenant's prefix: nobody squats another tenant's subjects). */
function subjectFor(room: RoomRef, requested: string | undefined): string {
  const own = roomSubject(room);
  if (requested === undefined) return own;
  if (!subjectTokens.test(requested) || !(requested === own || requested.startsWith(`${own}.`))) {
    throw new ApiError("bad_request", `subject: must be ${own} or a subject below it`);
  }
  return requested;
}

/** Non-members learn nothing about a room, not even that it exists. */
export function requireMember(room: RoomState | undefined, who: string): asserts room is RoomState {
  if (!room || !roleOf(room, who)) throw new ApiError("not_found", "no such room");
}

export function decideCreate(
  actor: RoomActor,
  existing: RoomState | undefined,
  input: { id: string; mode: "e2e" | "clear"; subject?: string | undefined; sealed_key?: string | undefined },
  opts: { cleartextAllowed: boolean },
): Decision {
  if (existing) throw new ApiError("conflict", "a room with this id already exists");
  // A cleartext room's traffic is readable by anyone who can subscribe: only on a private bind.
  if (input.mode === "clear" && !opts.cleartextAllowed) {
    throw new ApiError("forbidden", "cleartext rooms are refused on a public deployment: use mode e2e");
  }
  if (input.mode === "e2e" && !input.sealed_key)
    throw new ApiError("bad_request", "sealed_key: required for e2e rooms");
  if (input.mode === "clear" && input.sealed_key)
    throw new ApiError("bad_request", "sealed_key: clear rooms have no key");
  const data: z.infer<typeof roomCreated> = {
    subject: subjectFor({ tenant: actor.tenant, id: input.id }, input.subject),
    mode: input.mode,
    tenant: actor.tenant,
    // The owner is the signer, endpoint and key: nobody creates rooms in another's name.
    owner: actor.signPub,
    owner_kex: actor.kexPub,
    ...(input.sealed_key ? { sealed_key: input.sealed_key } : {}),
  };
  return { type: "room.created", data };
}

/** Owners and admins invite; only the owner makes admins; the invitee must be an active user of the tenant. */
export function decideInvite(
  actor: RoomActor,
  room: RoomState | undefined,
  invitee: { signPub: string; kexPub: string; tenant: string; active: boolean } | undefined,
  input: { role: "admin" | "member"; sealed_key?: string | undefined },
): Decision {
  requireMember(room, actor.signPub);
  const mine = roleOf(room, actor.signPub) as RoomRole;
  if (mine === "member") throw new ApiError("forbidden", "only the owner or an admin invites");
  if (input.role === "admin" && mine !== "owner") throw new ApiError("forbidden", "only the owner makes admins");
  if (!invitee?.active || invitee.tenant !== room.tenant) {
    throw new ApiError("bad_request", "member: not an active user of this room's tenant");
  }
  if (roleOf(room, invitee.signPub)) throw new ApiError("conflict", "already a member");
  if (Object.keys(room.members).length >= MAX_ROOM_MEMBERS) {
    throw new ApiError("conflict", `the room has ${MAX_ROOM_MEMBERS} members, its maximum`, {
      reason: "too_many_members",
    });
  }
  if (room.mode === "e2e") {
    if (room.keyed_epoch < room.epoch) throw new ApiError("conflict", "a rekey is pending: rekey before inviting");
    if (!input.sealed_key) throw new ApiError("bad_request", "sealed_key: required to invite into an e2e room");
  } else if (input.sealed_key) {
    throw new ApiError("bad_request", "sealed_key: clear rooms have no key");
  }
  const data: Invite = {
    member: invitee.signPub,
    kex_pub: invitee.kexPub,
    role: input.role,
    ...(input.sealed_key ? { sealed_key: input.sealed_key } : {}),
  };
  return { type: "room.member_invited", data };
}

/** Owners and admins remove those below them; anyone but the owner may leave. */
export function decideRemove(actor: RoomActor, room: RoomState | undefined, member: string): Decision {
  requireMember(room, actor.signPub);
  const target = roleOf(room, member);
  if (!target) throw new ApiError("not_found", "no such member");
  if (member === actor.signPub) {
    if (target === "owner") throw new ApiError("conflict", "the owner cannot leave its room");
  } else {
    const mine = roleOf(room, actor.signPub) as RoomRole;
    if (mine === "member") throw new ApiError("forbidden", "only the owner or an admin removes members");
    if (rank[target] >= rank[mine]) throw new ApiError("forbidden", "cannot remove a member of equal or higher role");
  }
  return { type: "room.member_removed", data: { member } };
}

/**
 * A rekey gives every current member, and nobody else, a sealed key at the
 * next epoch: the pending one after a removal, else current + 1 (rotation).
 */
export function decideRekey(
  actor: RoomActor,
  room: RoomState | undefined,
  input: { epoch: number; sealed_keys: Record<string, string> },
): Decision {
  requireMember(room, actor.signPub);
  if (roleOf(room, actor.signPub) === "member") throw new ApiError("forbidden", "only the owner or an admin rekeys");
  if (room.mode !== "e2e") throw new ApiError("bad_request", "clear rooms have no keys");
  const expected = room.keyed_epoch < room.epoch ? room.epoch : room.epoch + 1;
  if (input.epoch !== expected) throw new ApiError("conflict", `epoch: the next key epoch is ${expected}`);
  const members = Object.keys(room.members).sort();
  const given = Object.keys(input.sealed_keys).sort();
  if (members.length !== given.length || members.some((m, i) => m !== given[i])) {
    throw new ApiError("bad_request", "sealed_keys: must cover exactly the current members");
  }
  return { type: "room.rekeyed", data: input };
}

/**
 * A revoked user leaves every room, whatever its role (the owner included: a
 * revoked key must not keep the room key). Nothing to do when it is not a member.
 */
export function decideRevokedRemoval(room: RoomState | undefined, member: string): Decision | undefined {
  if (!room || !roleOf(room, member)) return undefined;
  return { type: "room.member_removed", data: { member, reason: "revoked" } };
}

/** The room after an event (the same function feeds commands and projections). */
export function evolveRoom(room: RoomState | undefined, event: RoomEvent): RoomState | undefined {
  switch (event.type) {
    case "room.created": {
      const d = event.data;
      const ref = parseRoomAggregate(event.aggregate.id);
      return {
        id: "legacy" in ref ? ref.legacy : ref.id,
        aggregate_id: event.aggregate.id,
        subject: d.subject,
        mode: d.mode,
        tenant: d.tenant,
        owner: d.owner,
        epoch: 1,
        keyed_epoch: d.mode === "e2e" ? 1 : 0,
        members: { [d.owner]: { role: "owner", kex_pub: d.owner_kex } },
        created_at: event.at,
      };
    }
    case "room.member_invited": {
      if (!room) return room;
      const d = event.data;
      return { ...room, members: { ...room.members, [d.member]: { role: d.role, kex_pub: d.kex_pub } } };
    }
    case "room.member_removed": {
      if (!room) return room;
      const members = { ...room.members };
      delete members[event.data.member];
      // The removed member holds the current key: the next epoch has none until a rekey.
      return { ...room, members, epoch: room.mode === "e2e" ? room.epoch + 1 : room.epoch };
    }
    case "room.rekeyed":
      return room && { ...room, epoch: event.data.epoch, keyed_epoch: event.data.epoch };
  }
}

/** A room command: what a route or the revocation sweep asks, with what it looked up beforehand. */
export type RoomCommand =
  | {
      kind: "create";
      actor: RoomActor;
      input: Parameters<typeof decideCreate>[2];
      cleartextAllowed: boolean;
    }
  | {
      kind: "invite";
      actor: RoomActor;
      invitee: Parameters<typeof decideInvite>[2];
      input: Parameters<typeof decideInvite>[3];
    }
  | { kind: "remove"; actor: RoomActor; member: string }
  | { kind: "rekey"; actor: RoomActor; input: Parameters<typeof decideRekey>[2] }
  | { kind: "remove_revoked"; member: string };

/** The room aggregate as a decider: what the one command path (handleCommand) runs. */
export const roomDecider: Decider<RoomCommand, RoomState | undefined, typeof ROOM_EVENT_SCHEMAS> = {
  schemas: ROOM_EVENT_SCHEMAS,
  initialState: undefined,
  decide(command, room) {
    switch (command.kind) {
      case "create":
        return decideCreate(command.actor, room, command.input, { cleartextAllowed: command.cleartextAllowed });
      case "invite":
        return decideInvite(command.actor, room, command.invitee, command.input);
      case "remove":
        return decideRemove(command.actor, room, command.member);
      case "rekey":
        return decideRekey(command.actor, room, command.input);
      case "remove_revoked":
        return decideRevokedRemoval(room, command.member);
    }
  },
  evolve: evolveRoom,
};
