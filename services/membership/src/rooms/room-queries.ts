import type { Principal } from "@conclave/auth";
import {
  ApiError,
  type MyRoom,
  ownValue,
  type RoomMember,
  type RoomView,
  type SealedRoomKey,
} from "@conclave/protocol";
import type { KvTable, Projected } from "@conclave/store";
import type { z } from "zod";
import { nextOf, type Page, type Position, positionIn } from "../paging.ts";
import { requireMember } from "./room-decider.ts";
import type { memberRoomEntry, RoomState, roomKeyEntry } from "./room-events.ts";
import { memberKey, memberRoomsFilter, roomKey, roomKeyKey, roomOfMemberRoomKey } from "./room-identity.ts";

/** Who reads: enough to find the caller's rooms (a route's read may run before the full principal is known). */
type Caller = Pick<Principal, "signPub" | "tenant">;

export interface RoomQueryDeps {
  rooms: KvTable<Projected<RoomState>>;
  memberRooms: KvTable<Projected<z.infer<typeof memberRoomEntry>>>;
  roomKeys: KvTable<Projected<z.infer<typeof roomKeyEntry>>>;
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
 * same id is never even read. The decisions rest on leader reads made before
 * the request's nonce claim (`snapshot` and `myRooms` are the routes' reads,
 * room-routes.ts): the claim, a quorum write issued after they returned, is
 * their witness (docs/store.md), so none of them writes a witness of its own.
 */
export class RoomQueries {
  private readonly deps: RoomQueryDeps;

  constructor(deps: RoomQueryDeps) {
    this.deps = deps;
  }

  /** The room's snapshot in the caller's tenant (a route's read, before the nonce claim). */
  async snapshot(actor: Caller, id: string): Promise<RoomState | undefined> {
    return (await this.deps.rooms.get(roomKey({ tenant: actor.tenant, id })))?.value.data;
  }

  room(actor: Principal, snapshot: RoomState | undefined): RoomView {
    requireMember(snapshot, actor.signPub);
    return roomView(snapshot, actor.signPub);
  }

  /** A page of a room's members by key, from the room's snapshot alone (one key). */
  members(
    actor: Principal,
    room: RoomState | undefined,
    limit: number,
    cursor?: Position,
  ): Page<"members", RoomMember> {
    requireMember(room, actor.signPub);
    const ref = { tenant: actor.tenant, id: room.id };
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

  /**
   * The caller's own sealed key at the newest keyed epoch; nobody else's, ever.
   * The key is read after the claim (its key depends on the snapshot): it
   * decides nothing, the witnessed snapshot decided membership.
   */
  async myKey(actor: Principal, room: RoomState | undefined): Promise<SealedRoomKey> {
    requireMember(room, actor.signPub);
    const ref = { tenant: actor.tenant, id: room.id };
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
   * joined them; reads its own member_rooms keys only, a page of them (KvTable.pageBySequence),
   * rooms it left an hour ago or less (their markers, TOMBSTONE_TTL_MS) counted in the page.
   */
  async myRooms(actor: Caller, limit: number, cursor?: Position): Promise<Page<"rooms", MyRoom>> {
    const after = positionIn(cursor, `${actor.signPub}.${actor.tenant}.`);
    const filter = memberRoomsFilter(actor.signPub, actor.tenant);
    const { keys, more, last } = await this.deps.memberRooms.pageBySequence(filter, after?.seq ?? 0, limit);
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
    // A page that ends on rooms it left goes on after them, not after its last live room.
    return { rooms: rooms.filter((r) => r !== undefined), ...nextOf(more, last) };
  }
}
