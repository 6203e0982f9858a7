import { verify } from "node:crypto";
import { publicKeyObject, publicKeyOfUserNkey, toBase64url } from "@conclave/auth";
import type { UserRecord } from "@conclave/protocol";
import type { User } from "@nats-io/jwt";
import { botPermissions, type MemberRoom } from "./bot-permissions.ts";
import type { CalloutRequest } from "./callout-request.ts";

/**
 * The data-plane admission rule (SPEC §10), as pure functions: who a
 * connecting client proves to be, then whether and with what it is admitted.
 * The responder does the reads in between and signs the answer.
 */

export type DenialReason =
  | "no_nkey"
  | "bad_nkey"
  | "bad_signature"
  | "unknown_user"
  | "revoked"
  | "too_many_rooms"
  | "store_unavailable"
  | "overloaded";

export interface Denial {
  admitted: false;
  reason: DenialReason;
  /** What the client is told: never internals. */
  message: string;
}

export interface Admission {
  admitted: true;
  signPub: string;
  tenant: string;
  /** Unix seconds: the server disconnects the bot then, and the callout decides again. */
  exp: number;
  /** The user claim (permissions and limits) of the JWT issued to the connection. */
  claim: Partial<User>;
}

export interface AdmissionPolicy {
  ttlS: number;
  maxRooms: number;
  limits: { subs: number; payload: number; data: number };
}

export const deny = (reason: DenialReason, message: string): Denial => ({ admitted: false, reason, message });

/** Every refusal a client sees says the same: which check failed is for our logs, not for probing. */
export const REFUSED = "authorization refused";

/**
 * The client's proof: it presented a user nkey and signed the server's nonce
 * with that key. nats-server does not check this for keys it does not know
 * (every bot key is unknown to it), so the callout must. Returns the
 * `sign_pub` the key stands for.
 */
export function provenSignPub(request: CalloutRequest): { signPub: string } | Denial {
  if (!request.clientNkey || !request.clientSig || !request.nonce) return deny("no_nkey", REFUSED);
  const key = publicKeyOfUserNkey(request.clientNkey);
  if (!key) return deny("bad_nkey", REFUSED);
  // nats-server accepts the signature in raw URL base64 or standard base64: so do we.
  const sig = Buffer.from(request.clientSig, /[+/=]/.test(request.clientSig) ? "base64" : "base64url");
  let ok = false;
  try {
    ok = sig.byteLength === 64 && verify(null, Buffer.from(request.nonce, "utf8"), publicKeyObject(key), sig);
  } catch {
    ok = false;
  }
  return ok ? { signPub: toBase64url(key) } : deny("bad_signature", REFUSED);
}

/** What the store said about the bot: its allowlist entry and its rooms (read only for an active user). */
export interface AdmissionFacts {
  signPub: string;
  user: UserRecord | undefined;
  rooms: readonly MemberRoom[];
}

/** Admit an active user into its rooms and its own inbox, for a bounded time; refuse anyone else. */
export function decideAdmission(facts: AdmissionFacts, policy: AdmissionPolicy, nowS: number): Admission | Denial {
  const { user } = facts;
  if (!user || user.sign_pub !== facts.signPub) return deny("unknown_user", REFUSED);
  if (user.status !== "active") return deny("revoked", REFUSED);
  if (facts.rooms.length > policy.maxRooms) return deny("too_many_rooms", REFUSED);
  return {
    admitted: true,
    signPub: facts.signPub,
    tenant: user.tenant,
    exp: nowS + policy.ttlS,
    claim: {
      ...botPermissions(facts.signPub, facts.rooms),
      subs: policy.limits.subs,
      payload: policy.limits.payload,
      data: policy.limits.data,
      bearer_token: false,
      allowed_connection_types: ["STANDARD"],
      tags: [`tenant:${user.tenant}`],
    },
  };
}
