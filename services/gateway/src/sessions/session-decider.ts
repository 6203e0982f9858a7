import { ApiError } from "@conclave/protocol";
import type { Decider, DomainEvent } from "@conclave/store";
import type { Caller } from "../access/caller.ts";
import { mayRevoke } from "../access/scope-policy.ts";
import { SESSION_EVENT_SCHEMAS, type SessionIssued } from "./session-events.ts";

// Who may revoke which session token, in one place. Pure: no I/O, no clock.

export type SessionEvent = DomainEvent<typeof SESSION_EVENT_SCHEMAS>;

export interface SessionState {
  issued: SessionIssued | undefined;
  /** The revocation as stored: re-applied when revoking again (a crash may have come between append and write). */
  revoked: SessionEvent | undefined;
}

/** Who revokes which token: the caller's right is checked against the token's own issue event. */
export interface RevokeCommand {
  caller: Caller;
  jti: string;
  reason?: string | undefined;
}

/** A session token (one aggregate per jti) as a decider. Unknown tokens and others' tokens look the same (404). */
export const sessionDecider: Decider<RevokeCommand, SessionState, typeof SESSION_EVENT_SCHEMAS> = {
  schemas: SESSION_EVENT_SCHEMAS,
  initialState: { issued: undefined, revoked: undefined },
  decide({ caller, jti, reason }, { issued, revoked }) {
    if (!issued || !mayRevoke(caller, issued)) throw new ApiError("not_found", "no such token");
    if (revoked) return undefined; // idempotent: revoking twice answers the same
    const data = { jti, sub: issued.sub, tenant: issued.tenant, exp: issued.exp, ...(reason ? { reason } : {}) };
    return { type: "session.revoked", data, id: `revoke-${jti}` };
  },
  evolve(state, event) {
    if (event.type === "session.issued") return { ...state, issued: event.data };
    return { ...state, revoked: event };
  },
};
