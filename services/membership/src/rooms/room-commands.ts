import type { Principal } from "@conclave/auth";
import { ApiError } from "@conclave/protocol";
import {
  type CommandPath,
  domainEvent,
  type EventLog,
  handleCommand,
  type KvTable,
  type Projected,
  type ProjectionRunner,
} from "@conclave/store";
import { type RoomCommand, roomDecider } from "./room-decider.ts";
import { ROOM_AGGREGATE, ROOM_EVENT_SCHEMAS, type RoomState } from "./room-events.ts";
import { type RoomRef, roomKey } from "./room-identity.ts";

export interface RoomCommandDeps {
  log: EventLog;
  rooms: KvTable<Projected<RoomState>>;
  projection: ProjectionRunner;
  lookupUser(signPub: string): Promise<Principal | undefined>;
  /** True only on a loopback bind (docs/rooms.md: no cleartext rooms on public deployments). */
  cleartextAllowed: boolean;
}

/** Who causes the revocation sweep's removals. */
export const SYSTEM_ACTOR = "system";

/**
 * Room commands on the one command path (handleCommand): decide on the room
 * snapshot, append with its version as the expected version, and answer once
 * the projection shows the event. A lost race (another replica appended
 * first) waits for the projection, reads again and decides again, so two
 * invites of different members both land, while two rekeys to the same epoch
 * cannot: the loser's second decision fails with 409. A room is always looked
 * up as (the caller's tenant, id): another tenant's room is simply not there.
 */
export class RoomCommands {
  private readonly deps: RoomCommandDeps;

  constructor(deps: RoomCommandDeps) {
    this.deps = deps;
  }

  private path(ref: RoomRef): CommandPath<RoomCommand, RoomState | undefined, typeof ROOM_EVENT_SCHEMAS> {
    const { rooms, projection } = this.deps;
    return {
      decider: roomDecider,
      load: async (afterConflict) => {
        // Our snapshot was behind the log: let the projection catch up before reading it again.
        if (afterConflict) await projection.caughtUp();
        const entry = await rooms.get(roomKey(ref));
        const room = entry?.value.data;
        // A room created before ids were per tenant keeps its bare aggregate.
        return {
          aggregate: { type: ROOM_AGGREGATE, id: room?.aggregate_id ?? roomKey(ref) },
          state: room,
          version: entry?.value.seq ?? 0,
        };
      },
      apply: (event) => projection.caughtUp(event.seq),
      conflict: () => new ApiError("conflict", "the room changed concurrently; retry"),
    };
  }

  /** Runs one command; `undefined` means nothing to do and no room. */
  private async run(ref: RoomRef, actor: string, command: RoomCommand): Promise<RoomState | undefined> {
    return (await handleCommand(this.deps.log, this.path(ref), command, actor)).state;
  }

  private async decided(ref: RoomRef, actor: string, command: RoomCommand): Promise<RoomState> {
    const room = await this.run(ref, actor, command);
    if (!room) throw new Error("a room command produced no room");
    return room;
  }

  /**
   * The tenant's room of this id created before ids were per tenant, if its
   * read model has not been rebuilt in the new shape yet (docs/rooms.md): it
   * still owns the id in its tenant. Another tenant's such room does not.
   */
  private async legacyRoomOfTenant(ref: RoomRef): Promise<boolean> {
    const stored = (await this.deps.log.read({ type: ROOM_AGGREGATE, id: ref.id }))[0];
    const first = stored && domainEvent(ROOM_EVENT_SCHEMAS, stored);
    return first?.type === "room.created" && first.data.tenant === ref.tenant;
  }

  async create(
    actor: Principal,
    input: { id: string; mode: "e2e" | "clear"; subject?: string | undefined; sealed_key?: string | undefined },
  ) {
    const ref = { tenant: actor.tenant, id: input.id };
    if (await this.legacyRoomOfTenant(ref)) throw new ApiError("conflict", "a room with this id already exists");
    return this.decided(ref, actor.signPub, {
      kind: "create",
      actor,
      input,
      cleartextAllowed: this.deps.cleartextAllowed,
    });
  }

  async invite(
    actor: Principal,
    id: string,
    input: { member: string; role: "admin" | "member"; sealed_key?: string | undefined },
  ) {
    // The invitee does not depend on the room: looked up once, whatever races follow.
    const user = await this.deps.lookupUser(input.member);
    const invitee = user && {
      signPub: user.signPub,
      kexPub: user.kexPub,
      tenant: user.tenant,
      active: user.status === "active",
    };
    return this.decided({ tenant: actor.tenant, id }, actor.signPub, { kind: "invite", actor, invitee, input });
  }

  remove(actor: Principal, id: string, member: string) {
    return this.decided({ tenant: actor.tenant, id }, actor.signPub, { kind: "remove", actor, member });
  }

  rekey(actor: Principal, id: string, input: { epoch: number; sealed_keys: Record<string, string> }) {
    return this.decided({ tenant: actor.tenant, id }, actor.signPub, { kind: "rekey", actor, input });
  }

  /** The revocation sweep: takes a revoked user out of one room (no-op when it is not in it). */
  removeRevoked(ref: RoomRef, member: string): Promise<RoomState | undefined> {
    return this.run(ref, SYSTEM_ACTOR, { kind: "remove_revoked", member });
  }
}
