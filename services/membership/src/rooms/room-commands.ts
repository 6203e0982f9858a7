import type { Principal } from "@conclave/auth";
import { ApiError } from "@conclave/protocol";
import { ConflictError, type EventLog, type KvTable, type Projected, type ProjectionRunner } from "@conclave/store";
import { type Decision, decideCreate, decideInvite, decideRekey, decideRemove, evolveRoom } from "./room-decider.ts";
import { ROOM_AGGREGATE, type RoomState } from "./room-events.ts";

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

/**
 * Room commands: decide on the room snapshot, append with its version as the
 * expected version, and answer once the projection shows the event. A lost
 * race (another replica appended first) re-reads and decides again, so two
 * invites of different members both land, while two rekeys to the same epoch
 * cannot: the loser's second decision fails with 409.
 */
export class RoomCommands {
  private readonly deps: RoomCommandDeps;

  constructor(deps: RoomCommandDeps) {
    this.deps = deps;
  }

  private async commit(
    id: string,
    actor: string,
    decide: (room: RoomState | undefined) => Promise<Decision> | Decision,
  ) {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const entry = await this.deps.rooms.get(id);
      const room = entry?.value.data;
      const decision = await decide(room);
      try {
        const event = await this.deps.log.append(
          { type: ROOM_AGGREGATE, id },
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

  create(
    actor: Principal,
    input: { id: string; mode: "e2e" | "clear"; subject?: string | undefined; sealed_key?: string | undefined },
  ) {
    return this.commit(input.id, actor.signPub, (room) =>
      decideCreate(actor, room, input, { cleartextAllowed: this.deps.cleartextAllowed }),
    );
  }

  invite(
    actor: Principal,
    id: string,
    input: { member: string; role: "admin" | "member"; sealed_key?: string | undefined },
  ) {
    return this.commit(id, actor.signPub, async (room) => {
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
    return this.commit(id, actor.signPub, (room) => decideRemove(actor, room, member));
  }

  rekey(actor: Principal, id: string, input: { epoch: number; sealed_keys: Record<string, string> }) {
    return this.commit(id, actor.signPub, (room) => decideRekey(actor, room, input));
  }
}
