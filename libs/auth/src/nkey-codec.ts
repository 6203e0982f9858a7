import { Prefix } from "@nats-io/nkeys";
// The library's own base32 + CRC16 codec; its package entry only exposes key pairs built on tweetnacl.
import { Codec } from "@nats-io/nkeys/lib/codec.js";
import { fromBase64url, toBase64url } from "./base64url.ts";
import { PUBLIC_KEY_BYTES } from "./ed25519-keys.ts";

/**
 * A bot's Ed25519 `sign_pub` is also its NATS user nkey (SPEC §10): base32 of
 * (0xA0 ‖ the 32 bytes ‖ CRC16), the "U…" spelling nats-server expects in
 * CONNECT. One key, one spelling each way: decoding re-encodes and compares.
 */

const ascii = new TextEncoder();
const text = new TextDecoder();

/** The "U…" user nkey of a 32-byte Ed25519 public key. */
export function userNkeyOf(signPub: Uint8Array): string {
  if (signPub.byteLength !== PUBLIC_KEY_BYTES) throw new TypeError("an Ed25519 public key is 32 bytes");
  return text.decode(Codec.encode(Prefix.User, signPub));
}

/** The user nkey of a `sign_pub` in base64url; undefined when it is not a 32-byte key. */
export function userNkeyOfSignPub(signPub: string): string | undefined {
  const bytes = fromBase64url(signPub);
  return bytes?.byteLength === PUBLIC_KEY_BYTES ? userNkeyOf(bytes) : undefined;
}

/** The raw public key of a user nkey, or undefined for anything else (other prefixes, bad CRC, odd spellings). */
export function publicKeyOfUserNkey(nkey: string): Uint8Array | undefined {
  if (!/^U[A-Z2-7]{55}$/.test(nkey)) return undefined;
  try {
    const raw = Codec.decode(Prefix.User, ascii.encode(nkey));
    if (raw.byteLength !== PUBLIC_KEY_BYTES || userNkeyOf(raw) !== nkey) return undefined;
    return raw;
  } catch {
    return undefined;
  }
}

/** The base64url `sign_pub` (the users table's key) a user nkey stands for. */
export function signPubOfUserNkey(nkey: string): string | undefined {
  const raw = publicKeyOfUserNkey(nkey);
  return raw ? toBase64url(raw) : undefined;
}
