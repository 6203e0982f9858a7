import { ApiError, type RevocationResult } from "@conclave/protocol";
import {
  type AggregateRef,
  type EventLog,
  foldEvents,
  handleCommand,
  ProjectionWriter,
  projectionTables,
  type Store,
} from "@conclave/store";
import type { Caller } from "../access/caller.ts";
import { revocationsProjection } from "./revocations-projection.ts";
import { type SessionEvent, sessionDecider } from "./session-decider.ts";
import { SESSION_AGGREGATE } from "./session-events.ts";

export interface RevocationDeps {
  store: Store;
  /** An event log that knows the session events (SESSION_EVENT_SCHEMAS). */
  log: EventLog;
}

export const sessionRef = (jti: string): AggregateRef => ({ type: SESSION_AGGREGATE, id: jti });
export const isoSeconds = (unixS: number) => new Date(unixS * 1000).toISOString();

/** Applies a `session.revoked` event to the revoked bucket now, instead of waiting for the projection runner. */
async function project(store: Store, event: SessionEvent): Promise<void> {
  await revocationsProjection.apply(event, new ProjectionWriter(event, projectionTables(store)));
}

/**
 * Revokes a session token by jti (the API route and the CLI both call this)
 * on the one command path. When this returns, the revoked bucket holds the
 * jti, so every replica's next check of the token — a leader read — refuses it.
 */
export async function revokeToken(
  deps: RevocationDeps,
  caller: Caller,
  jti: string,
  reason?: string,
): Promise<RevocationResult> {
  const { state, event } = await handleCommand(
    deps.log,
    {
      decider: sessionDecider,
      load: async () => {
        const events = await deps.log.read(sessionRef(jti));
        return {
          aggregate: sessionRef(jti),
          state: foldEvents(sessionDecider, events),
          version: events.at(-1)?.seq ?? 0,
        };
      },
      apply: (e) => project(deps.store, e),
      conflict: () => new ApiError("conflict", "the token changed concurrently; retry"),
    },
    { caller, jti, reason },
    caller.principal.signPub,
  );
  // Already revoked: make sure it is projected (a crash may have come between append and write).
  if (!event && state.revoked) await project(deps.store, state.revoked);
  const issued = state.issued;
  if (!issued) throw new Error("a revocation decided without the token's issue event");
  return { jti, revoked: true, expires_at: isoSeconds(issued.exp) };
}
