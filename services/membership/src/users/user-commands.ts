import { ApiError } from "@conclave/protocol";
import {
  type AggregateRef,
  type CommandPath,
  type Decider,
  type EventLog,
  foldEvents,
  handleCommand,
  type KvTable,
  type Projected,
  type ProjectionRunner,
} from "@conclave/store";
import type { z } from "zod";
import { nextOf, type Page, type Position, positionIn } from "../paging.ts";
import { type Actor, type AddUserInput, bootstrapDecider, type UserCommand, userDecider } from "./user-decider.ts";
import { BOOTSTRAP_AGGREGATE, USER_AGGREGATE, type USER_EVENT_SCHEMAS, type UserRecord } from "./user-events.ts";
import { chunkKey, readUserIndex, type userIndexEntry, userIndexScope } from "./user-index.ts";

export interface UserCommandDeps {
  log: EventLog;
  /** The users projection's table (leader reads). */
  users: KvTable<Projected<UserRecord>>;
  /** The users by tenant (user-index.ts): what listings page. */
  index: KvTable<Projected<z.infer<typeof userIndexEntry>>>;
  /** The users projection runner: commands answer once their event is visible to every replica. */
  projection: ProjectionRunner;
}

const userRef = (signPub: string): AggregateRef => ({ type: USER_AGGREGATE, id: signPub });

/** An aggregate's state folded from its events on the log (authoritative, whatever a projection's lag), with its version. */
async function fromLog<C, State>(
  log: EventLog,
  decider: Decider<C, State, typeof USER_EVENT_SCHEMAS>,
  aggregate: AggregateRef,
) {
  const events = await log.read(aggregate);
  return { aggregate, state: foldEvents(decider, events), version: events.at(-1)?.seq ?? 0 };
}

/** A user as its events on the log say, with its version. */
export function userFromLog(log: EventLog, signPub: string) {
  return fromLog(log, userDecider, userRef(signPub));
}

/** The users allowlist: commands go through the log, reads come from the projection. */
export class UserCommands {
  private readonly deps: UserCommandDeps;

  constructor(deps: UserCommandDeps) {
    this.deps = deps;
  }

  /** Decided on the state folded from the log; answers once the users projection shows the event. */
  private path(signPub: string): CommandPath<UserCommand, UserRecord | undefined, typeof USER_EVENT_SCHEMAS> {
    return {
      decider: userDecider,
      load: () => userFromLog(this.deps.log, signPub),
      // Revocation must be in force on every replica before we say it is done.
      apply: (event) => this.deps.projection.caughtUp(event.seq),
      conflict: () => new ApiError("conflict", "the user changed concurrently; retry"),
    };
  }

  private async commit(signPub: string, actor: string, command: UserCommand): Promise<UserRecord> {
    const { state } = await handleCommand(this.deps.log, this.path(signPub), command, actor);
    if (!state) throw new Error("a user command produced no user");
    return state;
  }

  add(actor: Actor, input: AddUserInput): Promise<UserRecord> {
    return this.commit(input.sign_pub, actor.signPub, { kind: "add", actor, input });
  }

  revoke(actor: Actor, signPub: string, reason?: string): Promise<UserRecord> {
    return this.commit(signPub, actor.signPub, { kind: "revoke", actor, reason });
  }

  /**
   * Creates the first operator. Refuses once any bootstrap happened: the claim
   * is the first event of a singleton aggregate, so two racing bootstraps (two
   * replicas, or a CLI and a replica) cannot both win. A bootstrap interrupted
   * between its two appends is completed by retrying with the same key, and a
   * bootstrap identity created before the operator role existed (an admin) is
   * upgraded to operator by it (`user.role_changed`; docs/runbook.md).
   */
  async bootstrap(input: AddUserInput): Promise<UserRecord> {
    if (input.role !== "operator") throw new ApiError("bad_request", "role: the bootstrap user is an operator");
    const conflict = () => new ApiError("conflict", "Conclave is already bootstrapped with another identity");
    await handleCommand(
      this.deps.log,
      {
        decider: bootstrapDecider,
        load: () => fromLog(this.deps.log, bootstrapDecider, BOOTSTRAP_AGGREGATE),
        // No read model: the marker is read from the log.
        apply: async () => {},
        conflict,
      },
      { admin: input.sign_pub },
      "bootstrap",
    );
    return this.commit(input.sign_pub, "bootstrap", { kind: "bootstrap", input });
  }

  async get(signPub: string): Promise<UserRecord | undefined> {
    return (await this.deps.users.get(signPub))?.value.data;
  }

  /**
   * A page of users: a tenant's (`tenant`), or every tenant's (`undefined`, operators only; the
   * routes decide who may ask). Reads that scope's index head and the chunks the page spans, then
   * each user: O(page) whatever the table holds (user-index.ts).
   */
  async page(tenant: string | undefined, limit: number, cursor?: Position): Promise<Page<"users", UserRecord>> {
    const scope = userIndexScope(tenant);
    const after = positionIn(cursor, `${scope}.`);
    const from = { chunk: after ? Number(after.key.slice(scope.length + 1)) : 0, offset: after?.offset ?? 0 };
    if (!Number.isSafeInteger(from.chunk)) throw new ApiError("bad_request", "cursor: not a cursor of this listing");
    const { signPubs, next } = await readUserIndex(this.deps.index, scope, from, limit);
    const found = await Promise.all(signPubs.map((k) => this.deps.users.get(k)));
    const users = found.flatMap((e) => (e ? [e.value.data] : []));
    return { users, ...nextOf(next !== undefined, next && { key: chunkKey(scope, next.chunk), offset: next.offset }) };
  }
}
