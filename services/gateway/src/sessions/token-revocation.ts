import { ApiError, type RevocationResult } from "@conclave/protocol";
import {
  type AggregateRef,
  ConflictError,
  type EventLog,
  ProjectionWriter,
  projectionTables,
  type Store,
  type StoredEvent,
} from "@conclave/store";
import type { Caller } from "../access/caller.ts";
import { mayRevoke } from "../access/scope-policy.ts";
import { revocationsProjection } from "./revocations-projection.ts";
import { SESSION_AGGREGATE, type SessionIssued, type SessionRevoked, sessionIssued } from "./session-events.ts";

export interface RevocationDeps {
  store: Store;
  /** An event log that knows the session events (SESSION_EVENT_SCHEMAS). */
  log: EventLog;
}

export const sessionRef = (jti: string): AggregateRef => ({ type: SESSION_AGGREGATE, id: jti });
export const isoSeconds = (unixS: number) => new Date(unixS * 1000).toISOString();

interface SessionState {
  issued: SessionIssued | undefined;
  revoked: StoredEvent | undefined;
  version: number;
}

function fold(events: StoredEvent[]): SessionState {
  const state: SessionState = { issued: undefined, revoked: undefined, version: events.at(-1)?.seq ?? 0 };
  for (const e of events) {
    if (e.type === "session.issued") state.issued = sessionIssued.parse(e.data);
    if (e.type === "session.revoked") state.revoked = e;
  }
  return state;
}

/** Applies a `session.revoked` event to the revoked bucket now, instead of waiting for the projection runner. */
async function project(store: Store, event: StoredEvent): Promise<void> {
  await revocationsProjection.apply(event, new ProjectionWriter(event, projectionTables(store)));
}

/**
 * Revokes a session token by jti (the API route and the CLI both call this).
 * Unknown tokens and other users' tokens look the same (404) to a non-admin.
 * Idempotent: revoking twice answers the same. When this returns, the revoked
 * bucket holds the jti, so every replica's next check of the token — a leader
 * read — refuses it.
 */
export async function revokeToken(
  deps: RevocationDeps,
  caller: Caller,
  jti: string,
  reason?: string,
): Promise<RevocationResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const state = fold(await deps.log.read(sessionRef(jti)));
    const issued = state.issued;
    if (!issued || !mayRevoke(caller, issued)) {
      throw new ApiError("not_found", "no such token");
    }
    const result: RevocationResult = { jti, revoked: true, expires_at: isoSeconds(issued.exp) };
    if (state.revoked) {
      // Already revoked: make sure it is projected (a crash may have come between append and write).
      await project(deps.store, state.revoked);
      return result;
    }
    const data: SessionRevoked = {
      jti,
      sub: issued.sub,
      tenant: issued.tenant,
      exp: issued.exp,
      ...(reason ? { reason } : {}),
    };
    const actor = caller.principal.signPub;
    let event: StoredEvent;
    try {
      event = await deps.log.append(
        sessionRef(jti),
        { type: "session.revoked", data, actor, id: `revoke-${jti}` },
        state.version,
      );
    } catch (err) {
      if (err instanceof ConflictError) continue; // changed meanwhile: decide again on the new state
      throw err;
    }
    await project(deps.store, event);
    return result;
  }
  throw new ApiError("conflict", "the token changed concurrently; retry");
}
