import { fromBase64url, toBase64url } from "@conclave/auth";
import nacl from "tweetnacl";

// End-to-end room crypto with tweetnacl (the SDK's side only; the server never
// sees a room key). A room key is 32 random bytes per epoch. It is sealed to a
// member's X25519 kex key with an ephemeral sender key (a "sealed box"):
//   sealed = ephemeralPub(32) ‖ nonce(24) ‖ box(roomKey, nonce, memberPub, ephemeralSecret)
// Messages are secretbox-encrypted under the room key and Ed25519-signed by the sender.

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

/** A message on a room's subject. */
export interface RoomEnvelope {
  v: 1;
  room: string;
  epoch: number;
  /** The sender's sign_pub. */
  from: string;
  nonce: string;
  ct: string;
  sig: string;
}

const signedPart = (e: Omit<RoomEnvelope, "sig">) =>
  new TextEncoder().encode(`conclave-msg-v1\n${e.room}\n${e.epoch}\n${e.from}\n${e.nonce}\n${e.ct}`);

export function encryptMessage(
  plaintext: Uint8Array,
  ctx: { room: string; epoch: number; roomKey: Uint8Array; signPub: string; signSecretKey: string },
): RoomEnvelope {
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  const unsigned = {
    v: 1 as const,
    room: ctx.room,
    epoch: ctx.epoch,
    from: ctx.signPub,
    nonce: toBase64url(nonce),
    ct: toBase64url(nacl.secretbox(plaintext, nonce, ctx.roomKey)),
  };
  const sig = nacl.sign.detached(signedPart(unsigned), bytes(ctx.signSecretKey, "sign secret"));
  return { ...unsigned, sig: toBase64url(sig) };
}

/**
 * Verifies the sender's signature, then decrypts. `senderSignPub` must come
 * from the room's member list: a valid signature by a non-member means nothing.
 */
export function decryptMessage(envelope: RoomEnvelope, roomKey: Uint8Array, senderSignPub: string): Uint8Array {
  if (envelope.from !== senderSignPub) throw new Error("envelope sender does not match");
  const ok = nacl.sign.detached.verify(
    signedPart(envelope),
    bytes(envelope.sig, "sig"),
    bytes(senderSignPub, "sign_pub"),
  );
  if (!ok) throw new Error("message signature does not verify");
  const plain = nacl.secretbox.open(bytes(envelope.ct, "ct"), bytes(envelope.nonce, "nonce"), roomKey);
  if (!plain) throw new Error("message does not decrypt with this epoch's key");
  return plain;
}
