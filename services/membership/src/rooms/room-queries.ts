import type { Principal } from "@conclave/auth";
import {
  ApiError,
  type MyRoom,
  ownValue,
  type RoomMember,
  type RoomView,
  type SealedRoomKey,
} from "@conclave/protocol";
import type { KvTable, Projected, QuorumWitness } from "@conclave/store";
import type { z } from "zod";
import { nextOf, type Page, type Position, positionIn } from "../paging.ts";
import { requireMember } from "./room-decider.ts";
import type { memberRoomEntry, RoomState, roomKeyEntry } from "./room-events.ts";
import {
  memberKey,
  memberRoomsFilter,
  type RoomRef,
  roomKey,
  roomKeyKey,
  roomOfMemberRoomKey,
} from "./room-identity.ts";

export interface RoomQueryDeps {
  rooms: KvTable<Projected<RoomState>>;
  memberRooms: KvTable<Projected<z.infer<typeof memberRoomEntry>>>;
  roomKeys: KvTable<Projected<z.infer<typeof roomKeyEntry>>>;
  /** Every answer rests on leader reads confirmed by a later quorum write (docs/store.md). */
  witness: QuorumWitness;
}

/** What a member sees of a room. */
export function roomView(room: RoomState, viewer: string): RoomView {
  return {
    id: room.id,
    subject: room.subject,
    mode: room.mode,
    tenant: room.tenant,
    owner: room.owner,
    epoch: room.epoch,
    keyed_epoch: room.keyed_epoch,
    rekey_pending: room.mode === "e2e" && room.keyed_epoch < room.epoch,
    role: ownValue(room.members, viewer)?.role,
    members: Object.keys(room.members).length,
    created_at: room.created_at,
  };
}

/**
 * Room reads, authorized by membership: non-members get 404 for everything. A
 * room is looked up as (the caller's tenant, id): another tenant's room of the
 * same id is never even read.
 */
export class RoomQueries {
  private readonly deps: RoomQueryDeps;

  constructor(deps: RoomQueryDeps) {
    this.deps = deps;
  }

  private async memberRoom(actor: Principal, ref: RoomRef): Promise<RoomState> {
    const room = (await this.deps.rooms.get(roomKey(ref)))?.value.data;
    requireMember(room, actor.signPub);
    await this.deps.witness.confirm();
    return room;
  }

  async room(actor: Principal, id: string) {
    return roomView(await this.memberRoom(actor, { tenant: actor.tenant, id }), actor.signPub);
  }

  /** A page of a room's members by key; reads the room's snapshot only (one key). */
  async members(actor: Principal, id: string, limit: number, cursor?: Position): Promise<Page<"members", RoomMember>> {
    const ref = { tenant: actor.tenant, id };
    const room = await this.memberRoom(actor, ref);
    const after = positionIn(cursor, memberKey(ref, ""))?.key;
    const rest = Object.keys(room.members)
      .map((member) => memberKey(ref, member))
      .filter((key) => after === undefined || key > after)
      .sort();
    const members = rest.slice(0, limit).map((key) => {
      const member = key.slice(memberKey(ref, "").length);
      const m = room.members[member] as { role: RoomMember["role"]; kex_pub: string };
      return { member, role: m.role, kex_pub: m.kex_pub };
    });
    const last = rest[members.length - 1];
    return { members, ...nextOf(rest.length > limit, last === undefined ? undefined : { key: last }) };
  }

  /** The caller's own sealed key at the newest keyed epoch; nobody else's, ever. */
  async myKey(actor: Principal, id: string): Promise<SealedRoomKey> {
    const ref = { tenant: actor.tenant, id };
    const room = await this.memberRoom(actor, ref);
    if (room.mode !== "e2e") throw new ApiError("not_found", "clear rooms have no key");
    const key = await this.deps.roomKeys.get(roomKeyKey(ref, room.keyed_epoch, actor.signPub));
    if (!key) throw new ApiError("not_found", "no sealed key for you at the current epoch");
    return {
      epoch: room.keyed_epoch,
      sealed_key: key.value.data.sealed_key,
      rekey_pending: room.keyed_epoch < room.epoch,
    };
  }

  /**
   * Discovery: a page of the caller's rooms with what a bot needs to join them, in the order it
   * joined them; reads its own member_rooms keys only, a page of them (KvTable.pageBySequence).
   */
  async myRooms(actor: Principal, limit: number, cursor?: Position): Promise<Page<"rooms", MyRoom>> {
    const after = positionIn(cursor, `${actor.signPub}.${actor.tenant}.`);
    const filter = memberRoomsFilter(actor.signPub, actor.tenant);
    const { keys, more } = await this.deps.memberRooms.pageBySequence(filter, after?.seq ?? 0, limit);
    const rooms = await Promise.all(
      keys.map(async ({ key }) => {
        const ref = roomOfMemberRoomKey(actor.signPub, actor.tenant, key);
        const id = ref.id;
        const room = (await this.deps.rooms.get(roomKey(ref)))?.value.data;
        const role = room && ownValue(room.members, actor.signPub)?.role;
        return room && role
          ? { id, subject: room.subject, epoch: room.epoch, keyed_epoch: room.keyed_epoch, mode: room.mode, role }
          : undefined;
      }),
    );
    await this.deps.witness.confirm();
    return { rooms: rooms.filter((r) => r !== undefined), ...nextOf(more, keys.at(-1)) };
  }
}
