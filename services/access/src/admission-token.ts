import { encodeAuthorizationResponse, encodeUser } from "@nats-io/jwt";
import type { KeyPair } from "@nats-io/nkeys";
import { type Admission, type Denial, deny, REFUSED } from "./admission.ts";
import type { CalloutRequest } from "./callout-request.ts";

/**
 * What the callout answers: an authorization response JWT signed by the issuer, carrying either
 * the bot's user JWT (its permission lists) or an error. The user JWT travels base64url-encoded
 * inside the response JWT, so each room subject costs about 2 × (its length + 3) × (4/3)² bytes
 * (measured per room in admission-token.test.ts and docs/dataplane.md, "Limits").
 */
export async function encodeAnswer(
  request: CalloutRequest,
  decision: Admission | Denial,
  issuer: KeyPair,
  account: string,
): Promise<string> {
  if (!decision.admitted) {
    return encodeAuthorizationResponse(request.userNkey, request.serverId, issuer, { error: decision.message }, {});
  }
  // The connection's user name is the sign_pub: CONNZ finds a bot's connections by it (live revocation).
  const jwt = await encodeUser(decision.signPub, request.userNkey, issuer, decision.claim, {
    aud: account,
    exp: decision.exp,
  });
  return encodeAuthorizationResponse(request.userNkey, request.serverId, issuer, { jwt }, {});
}

const TOO_LARGE = deny("too_many_rooms", REFUSED);

/**
 * The answer, or a refusal when the admission would not fit one message of the callout's
 * connection (max_payload): a message that large would not be sent and the bot would wait for the
 * server's timeout. A bound that holds whatever the subjects' lengths, behind CONCLAVE_ACCESS_MAX_ROOMS.
 */
export async function answerWithin(
  request: CalloutRequest,
  decision: Admission | Denial,
  issuer: KeyPair,
  account: string,
  maxPayload: number,
): Promise<{ decision: Admission | Denial; answer: string }> {
  const answer = await encodeAnswer(request, decision, issuer, account);
  if (Buffer.byteLength(answer) <= maxPayload) return { decision, answer };
  return { decision: TOO_LARGE, answer: await encodeAnswer(request, TOO_LARGE, issuer, account) };
}
