import type { Principal } from "@conclave/auth";
import { ApiError } from "@conclave/protocol";
import { ConflictError, type EventLog, type KvTable, type Projected, type ProjectionRunner } from "@conclave/store";
import type { z } from "zod";
import {
  type Decision,
  decideCreate,
  decideInvite,
  decideRekey,
  decideRemove,
  decideRevokedRemoval,
  evolveRoom,
} from "./room-decider.ts";
import { ROOM_AGGREGATE, type RoomState, type roomCreated } from "./room-events.ts";
import { type RoomRef, roomKey } from "./room-identity.ts";

export interface RoomCommandDeps {
  log: EventLog;
  rooms: KvTable<Projected<RoomState>>;
  projection: ProjectionRunner;
  lookupUser(signPub: string): Promise<Principal | undefined>;
  /** True only on a loopback bind (docs/rooms.md: no cleartext rooms on public deployments). */
  cleartextAllowed: boolean;
}

/** How often a command re-decides after losing an append race before answering 409. */
const ATTEMPTS = 3;

/** Who causes the revocation sweep's removals. */
export const SYSTEM_ACTOR = "system";

/**
 * Room commands: decide on the room snapshot, append with its version as the
 * expected version, and answer once the projection shows the event. A lost
 * race (another replica appended first) re-reads and decides again, so two
 * invites of different members both land, while two rekeys to the same epoch
 * cannot: the loser's second decision fails with 409. A room is always looked
 * up as (the caller's tenant, id): another tenant's room is simply not there.
 */
export class RoomCommands {
  private readonly deps: RoomCommandDeps;

  constructor(deps: RoomCommandDeps) {
    this.deps = deps;
  }

  /** Appends what `decide` decides; `undefined` means nothing to do (the room as it is, if any). */
  private async commit(
    ref: RoomRef,
    actor: string,
    decide: (room: RoomState | undefined) => Promise<Decision | undefined> | Decision | undefined,
  ): Promise<RoomState | undefined> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const entry = await this.deps.rooms.get(roomKey(ref));
      const room = entry?.value.data;
      const decision = await decide(room);
      if (!decision) return room;
      try {
        const event = await this.deps.log.append(
          // A room created before ids were per tenant keeps its bare aggregate.
          { type: ROOM_AGGREGATE, id: room?.aggregate_id ?? roomKey(ref) },
          { ...decision, actor },
          entry?.value.seq ?? 0,
        );
        await this.deps.projection.caughtUp(event.seq);
        const next = evolveRoom(room, event);
        if (!next) throw new Error("a room command produced no room");
        return next;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        // Our snapshot was behind the log: let the projection catch up, then decide again.
        await this.deps.projection.caughtUp();
      }
    }
    throw new ApiError("conflict", "the room changed concurrently; retry");
  }

  private async decided(
    ref: RoomRef,
    actor: string,
    decide: (room: RoomState | undefined) => Promise<Decision> | Decision,
  ) {
    const room = await this.commit(ref, actor, decide);
    if (!room) throw new Error("a room command produced no room");
    return room;
  }

  /**
   * The tenant's room of this id created before ids were per tenant, if its
   * read model has not been rebuilt in the new shape yet (docs/rooms.md): it
   * still owns the id in its tenant. Another tenant's such room does not.
   */
  private async legacyRoomOfTenant(ref: RoomRef): Promise<boolean> {
    const first = (await this.deps.log.read({ type: ROOM_AGGREGATE, id: ref.id }))[0];
    return first?.type === "room.created" && (first.data as z.infer<typeof roomCreated>).tenant === ref.tenant;
  }

  async create(
    actor: Principal,
    input: { id: string; mode: "e2e" | "clear"; subject?: string | undefined; sealed_key?: string | undefined },
  ) {
    const ref = { tenant: actor.tenant, id: input.id };
    if (await this.legacyRoomOfTenant(ref)) throw new ApiError("conflict", "a room with this id already exists");
    return this.decided(ref, actor.signPub, (room) =>
      decideCreate(actor, room, input, { cleartextAllowed: this.deps.cleartextAllowed }),
    );
  }

  invite(
    actor: Principal,
    id: string,
    input: { member: string; role: "admin" | "member"; sealed_key?: string | undefined },
  ) {
    return this.decided({ tenant: actor.tenant, id }, actor.signPub, async (room) => {
      const user = await this.deps.lookupUser(input.member);
      const invitee = user && {
        signPub: user.signPub,
        kexPub: user.kexPub,
        tenant: user.tenant,
        active: user.status === "active",
      };
      return decideInvite(actor, room, invitee, input);
    });
  }

  remove(actor: Principal, id: string, member: string) {
    return this.decided({ tenant: actor.tenant, id }, actor.signPub, (room) => decideRemove(actor, room, member));
  }

  rekey(actor: Principal, id: string, input: { epoch: number; sealed_keys: Record<string, string> }) {
    return this.decided({ tenant: actor.tenant, id }, actor.signPub, (room) => decideRekey(actor, room, input));
  }

  /** The revocation sweep: takes a revoked user out of one room (no-op when it is not in it). */
  removeRevoked(ref: RoomRef, member: string): Promise<RoomState | undefined> {
    return this.commit(ref, SYSTEM_ACTOR, (room) => decideRevokedRemoval(room, member));
  }
}
