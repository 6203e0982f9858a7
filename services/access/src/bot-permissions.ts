import { botInboxPrefix, ROOM_SUBJECT } from "@conclave/protocol";
import type { Permissions } from "@nats-io/jwt";

/** A room the bot is a member of, as the admission needs it. */
export interface MemberRoom {
  id: string;
  subject: string;
}

// Replies to a request received on a room: one message, within 30 s (JWT durations are nanoseconds).
const RESPONSE = { max: 1, ttl: 30_000_000_000 };

/**
 * Exactly the bot's room subjects, publish and subscribe, plus its own inbox
 * (`_INBOX_<sign_pub>.>`) for request/reply; replies to others go through the
 * one-shot response permission, so no bot can publish into, or read, another
 * bot's inbox. The lists are never empty: an empty allow list means "no
 * restriction" to nats-server, and the bot's own inbox keeps them non-empty.
 * A subject that is not a room subject (a corrupted projection) is left out.
 */
export function botPermissions(signPub: string, rooms: readonly MemberRoom[]): Permissions {
  const roomSubjects = [...new Set(rooms.map((r) => r.subject).filter((s) => ROOM_SUBJECT.test(s)))].sort();
  const inbox = `${botInboxPrefix(signPub)}.>`;
  return {
    pub: { allow: [...roomSubjects, inbox] },
    sub: { allow: [...roomSubjects, inbox] },
    resp: RESPONSE,
  };
}
