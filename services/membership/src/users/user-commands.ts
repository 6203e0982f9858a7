import { ApiError } from "@conclave/protocol";
import {
  type AggregateRef,
  ConflictError,
  type EventLog,
  type KvTable,
  type Projected,
  type ProjectionRunner,
  type StoredEvent,
} from "@conclave/store";
import type { z } from "zod";
import { nextOf, type Page, type Position, positionIn } from "../paging.ts";
import {
  type Actor,
  type AddUserInput,
  type Decision,
  decideAddUser,
  decideBootstrap,
  decideRevokeUser,
  evolveUser,
} from "./user-decider.ts";
import { BOOTSTRAP_AGGREGATE, USER_AGGREGATE, type UserRecord } from "./user-events.ts";
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

/** A user as its events on the log say (authoritative, whatever the projection's lag), with its version. */
export async function userFromLog(
  log: EventLog,
  signPub: string,
): Promise<{ state: UserRecord | undefined; version: number }> {
  const events = await log.read(userRef(signPub));
  return {
    state: events.reduce<UserRecord | undefined>(evolveUser, undefined),
    version: events.at(-1)?.seq ?? 0,
  };
}

/** The users allowlist: commands go through the log, reads come from the projection. */
export class UserCommands {
  private readonly deps: UserCommandDeps;

  constructor(deps: UserCommandDeps) {
    this.deps = deps;
  }

  /** Current state decided on: folded from the log (authoritative), with its version. */
  private load(signPub: string) {
    return userFromLog(this.deps.log, signPub);
  }

  private async commit(signPub: string, actor: string, decide: (s: UserRecord | undefined) => Decision | undefined) {
    const { state, version } = await this.load(signPub);
    const decision = decide(state);
    // Nothing to change (an idempotent upgrade already done).
    if (!decision && state) return state;
    if (!decision) throw new Error("a user command decided nothing about no user");
    let event: StoredEvent;
    try {
      event = await this.deps.log.append(userRef(signPub), { ...decision, actor }, version);
    } catch (err) {
      if (err instanceof ConflictError) throw new ApiError("conflict", "the user changed concurrently; retry");
      throw err;
    }
    // Revocation must be in force on every replica before we say it is done.
    await this.deps.projection.caughtUp(event.seq);
    const next = evolveUser(state, event);
    if (!next) throw new Error("a user command produced no user");
    return next;
  }

  add(actor: Actor, input: AddUserInput): Promise<UserRecord> {
    return this.commit(input.sign_pub, actor.signPub, (s) => decideAddUser(actor, s, input));
  }

  revoke(actor: Actor, signPub: string, reason?: string): Promise<UserRecord> {
    return this.commit(signPub, actor.signPub, (s) => decideRevokeUser(actor, s, reason));
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
    const marker = (await this.deps.log.read(BOOTSTRAP_AGGREGATE))[0];
    if (marker && (marker.data as { admin: string }).admin !== input.sign_pub) {
      throw new ApiError("conflict", "Conclave is already bootstrapped with another identity");
    }
    if (!marker) {
      try {
        await this.deps.log.append(
          BOOTSTRAP_AGGREGATE,
          { type: "system.bootstrapped", data: { admin: input.sign_pub }, actor: "bootstrap" },
          0,
        );
      } catch (err) {
        if (err instanceof ConflictError)
          throw new ApiError("conflict", "Conclave is already bootstrapped with another identity");
        throw err;
      }
    }
    return this.commit(input.sign_pub, "bootstrap", (state) => decideBootstrap(state, input));
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
