import type { Principal } from "@conclave/auth";
import { ApiError } from "@conclave/protocol";
import {
  type CommandPath,
  domainEvent,
  type EventLog,
  handleCommand,
  type KvTable,
  type Projected,
  ProjectionWriter,
  SUBJECTS,
  type TableOpener,
} from "@conclave/store";
import { evolveRoom, type RoomCommand, type RoomEvent, roomDecider } from "./room-decider.ts";
import { ROOM_AGGREGATE, ROOM_EVENT_SCHEMAS, type RoomState } from "./room-events.ts";
import { type RoomRef, roomKey } from "./room-identity.ts";
import { applyRoomEvent, type RoomSnapshot } from "./rooms-projection.ts";

export interface RoomCommandDeps {
  log: EventLog;
  rooms: KvTable<Projected<RoomState>>;
  /** The rooms projection's live tables: commands apply their own events. */
  tables: TableOpener;
  lookupUser(signPub: string): Promise<Principal | undefined>;
  /** True only on a loopback bind (docs/rooms.md: no cleartext rooms on public deployments). */
  cleartextAllowed: boolean;
}

/** Who causes the revocation sweep's removals. */
export const SYSTEM_ACTOR = "system";

/**
 * Room commands on the one command path (handleCommand): decide on the room
 * snapshot, append with its version as the expected version, apply the event
 * inline (applyRoomEvent: its read-model writes, the snapshot last) and
 * answer, so a client's next read on any replica sees its change without
 * waiting for the shared ordered projection. A lost race (another replica
 * appended first) applies the room's newer events itself, then decides again,
 * so two invites of different members both land, while two rekeys to the
 * same epoch cannot: the loser's second decision fails with 409. A room is
 * always looked up as (the caller's tenant, id): another tenant's room is
 * simply not there.
 */
export class RoomCommands {
  private readonly deps: RoomCommandDeps;

  constructor(deps: RoomCommandDeps) {
    this.deps = deps;
  }

  private apply(ref: RoomRef, before: RoomSnapshot | undefined, event: RoomEvent): Promise<void> {
    return applyRoomEvent(new ProjectionWriter(event, this.deps.tables), ref, before, event);
  }

  /**
   * Brings the room's read models up to the log: the events after the snapshot, applied in order.
   * They are there after a conflict: another replica's (being applied by it too: the writes are the
   * same, guarded by sequence) or one whose command died between append and apply.
   */
  private async catchUp(ref: RoomRef, snapshot: RoomSnapshot | undefined): Promise<RoomSnapshot | undefined> {
    const subject = SUBJECTS.aggregate(ROOM_AGGREGATE, snapshot?.data.aggregate_id ?? roomKey(ref));
    let at = snapshot;
    for await (const stored of this.deps.log.replay([subject], (at?.seq ?? 0) + 1)) {
      const event = domainEvent(ROOM_EVENT_SCHEMAS, stored);
      if (!event) continue;
      await this.apply(ref, at, event);
      const data = evolveRoom(at?.data, event);
      at = data && { seq: event.seq, data };
    }
    return at;
  }

  /** `fromLog`: decide on the room as the log has it, not as its snapshot may lag (the sweep). */
  private path(
    ref: RoomRef,
    fromLog = false,
  ): CommandPath<RoomCommand, RoomState | undefined, typeof ROOM_EVENT_SCHEMAS> {
    // The snapshot as loaded, with its KV revision while it is the one read (not one caught up in memory).
    let loadedSnapshot: RoomSnapshot | undefined;
    return {
      decider: roomDecider,
      load: async (afterConflict) => {
        const entry = await this.deps.rooms.get(roomKey(ref));
        const read = entry && { ...entry.value, revision: entry.revision };
        // Our snapshot was behind the log: apply what it lacks before deciding again.
        const snapshot = afterConflict || fromLog ? await this.catchUp(ref, read) : read;
        loadedSnapshot = snapshot;
        const room = snapshot?.data;
        // A room created before ids were per tenant keeps its bare aggregate.
        return {
          aggregate: { type: ROOM_AGGREGATE, id: room?.aggregate_id ?? roomKey(ref) },
          state: room,
          version: snapshot?.seq ?? 0,
        };
      },
      apply: (event) => this.apply(ref, loadedSnapshot, event),
      conflict: () => new ApiError("conflict", "the room changed concurrently; retry"),
    };
  }

  /** Runs one command; `undefined` means nothing to do and no room. */
  private async run(ref: RoomRef, actor: string, command: RoomCommand, fromLog = false) {
    return (await handleCommand(this.deps.log, this.path(ref, fromLog), command, actor)).state;
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

  /**
   * The revocation sweep: takes a revoked user out of one room (no-op when it is not in it).
   * Decided on the room caught up with the log: the invite it undoes may not be applied yet
   * (its command still applying it, or dead), and a snapshot without it would make this a no-op.
   */
  removeRevoked(ref: RoomRef, member: string): Promise<RoomState | undefined> {
    return this.run(ref, SYSTEM_ACTOR, { kind: "remove_revoked", member }, true);
  }
}
