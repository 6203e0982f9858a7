import { sign, verify } from "node:crypto";
import { fromBase64url, privateKeyObject, publicKeyObject, toBase64url } from "@conclave/auth";
import nacl from "tweetnacl";

// End-to-end room crypto with tweetnacl (the SDK's side only; the server never
// sees a room key). A room key is 32 random bytes per epoch. It is sealed to a
// member's X25519 kex key with an ephemeral sender key (a "sealed box"):
//   sealed = ephemeralPub(32) ‖ nonce(24) ‖ box(roomKey, nonce, memberPub, ephemeralSecret)
// Messages are secretbox-encrypted under the room key and Ed25519-signed by the sender
// (signed and verified with node:crypto: identical signatures, many times faster than
// tweetnacl's, which matters when a receiver must refuse a flood of junk).

const bytes = (s: string, what: string): Uint8Array => {
  const b = fromBase64url(s);
  if (!b) throw new Error(`${what} is not base64url`);
  return b;
};

export function newRoomKey(): Uint8Array {
  return nacl.randomBytes(nacl.secretbox.keyLength);
}

/** Seals a room key to a member's kex_pub (base64url). Anyone may seal; only the member opens. */
export function sealRoomKey(roomKey: Uint8Array, memberKexPub: string): string {
  const eph = nacl.box.keyPair();
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  const box = nacl.box(roomKey, nonce, bytes(memberKexPub, "kex_pub"), eph.secretKey);
  const out = new Uint8Array(32 + nonce.length + box.length);
  out.set(eph.publicKey, 0);
  out.set(nonce, 32);
  out.set(box, 32 + nonce.length);
  return toBase64url(out);
}

/** Opens a sealed room key with the member's own kex secret key; throws if it is not ours or was altered. */
export function openRoomKey(sealed: string, kexSecretKey: string): Uint8Array {
  const raw = bytes(sealed, "sealed key");
  const n = nacl.box.nonceLength;
  if (raw.length < 32 + n + nacl.box.overheadLength) throw new Error("sealed key too short");
  const key = nacl.box.open(
    raw.subarray(32 + n),
    raw.subarray(32, 32 + n),
    raw.subarray(0, 32),
    bytes(kexSecretKey, "kex secret"),
  );
  if (!key) throw new Error("sealed key does not open with this identity (not ours, or altered)");
  return key;
}

/**
 * A message on a room's subject (wire version 2, docs/rooms.md "Envelopes").
 * `seq` and `ts` are inside the signature, so nobody can renumber or
 * re-date a member's envelope: receivers drop duplicates and replays by them.
 */
export interface RoomEnvelope {
  v: 2;
  room: string;
  epoch: number;
  /** The sender's sign_pub. */
  from: string;
  /** Per-sender, strictly increasing, also across the sender's restarts (`SenderSequence`). */
  seq: number;
  /** The sender's clock at sending, ms since the epoch. */
  ts: number;
  nonce: string;
  ct: string;
  sig: string;
}

export const ENVELOPE_VERSION = 2;

// v1 signed room, epoch, from, nonce and ct only: no sequence or time, so any copy replayed as new.
const signedPart = (e: Omit<RoomEnvelope, "sig">) =>
  new TextEncoder().encode(`conclave-msg-v2\n${e.room}\n${e.epoch}\n${e.from}\n${e.seq}\n${e.ts}\n${e.nonce}\n${e.ct}`);

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
const isText = (s: unknown): s is string => typeof s === "string" && s.length > 0 && s.length < 2_000_000;

/** The envelope in a message's bytes, or why it is not one (before any crypto: a cheap refusal of junk). */
export function parseEnvelope(raw: unknown): RoomEnvelope | string {
  if (typeof raw !== "object" || raw === null) return "not an envelope";
  const e = raw as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION) return `unsupported envelope version ${String(e.v)}`;
  for (const field of ["room", "from", "nonce", "ct", "sig"]) if (!isText(e[field])) return `bad field ${field}`;
  for (const field of ["epoch", "seq", "ts"]) if (!isCount(e[field])) return `bad field ${field}`;
  return e as unknown as RoomEnvelope;
}

export function encryptMessage(
  plaintext: Uint8Array,
  ctx: {
    room: string;
    epoch: number;
    seq: number;
    ts: number;
    roomKey: Uint8Array;
    signPub: string;
    signSecretKey: string;
  },
): RoomEnvelope {
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  const unsigned = {
    v: 2 as const,
    room: ctx.room,
    epoch: ctx.epoch,
    from: ctx.signPub,
    seq: ctx.seq,
    ts: ctx.ts,
    nonce: toBase64url(nonce),
    ct: toBase64url(nacl.secretbox(plaintext, nonce, ctx.roomKey)),
  };
  const sig = sign(null, signedPart(unsigned), privateKeyObject(bytes(ctx.signSecretKey, "sign secret")));
  return { ...unsigned, sig: toBase64url(sig) };
}

/** True when `from` signed this envelope (its sign_pub is in the envelope: checkable before any membership lookup). */
export function envelopeSignedBySender(envelope: RoomEnvelope): boolean {
  const pub = fromBase64url(envelope.from);
  const sig = fromBase64url(envelope.sig);
  if (pub?.length !== 32 || sig?.length !== 64) return false;
  return verify(null, signedPart(envelope), publicKeyObject(pub), sig);
}

/**
 * Verifies the sender's signature, then decrypts. `senderSignPub` must come
 * from the room's member list: a valid signature by a non-member means nothing.
 */
export function decryptMessage(envelope: RoomEnvelope, roomKey: Uint8Array, senderSignPub: string): Uint8Array {
  if (envelope.from !== senderSignPub) throw new Error("envelope sender does not match");
  if (!envelopeSignedBySender(envelope)) throw new Error("message signature does not verify");
  return decryptVerified(envelope, roomKey);
}

/** Decrypts an envelope whose signature the caller has already checked (`envelopeSignedBySender`). */
export function decryptVerified(envelope: RoomEnvelope, roomKey: Uint8Array): Uint8Array {
  const plain = nacl.secretbox.open(bytes(envelope.ct, "ct"), bytes(envelope.nonce, "nonce"), roomKey);
  if (!plain) throw new Error("message does not decrypt with this epoch's key");
  return plain;
}
