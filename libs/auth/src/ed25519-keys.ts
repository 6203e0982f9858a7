import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { ed25519EncodingProblem } from "@conclave/protocol";
import { fromBase64url, toBase64url } from "./base64url.ts";
import { SignatureError } from "./signature-error.ts";

/**
 * Ed25519 keys in the tweetnacl layout the key files use (32-byte public key,
 * 64-byte secret = seed ‖ public) and their node:crypto KeyObject twins.
 * Raw bytes go through JWK because node has no "raw" import for OKP keys.
 */

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
const SEED_BYTES = 32;

export interface Ed25519KeyPair {
  /** 32 bytes. */
  publicKey: Uint8Array;
  /** 64 bytes: seed ‖ public key (tweetnacl `sign.keyPair().secretKey`). */
  secretKey: Uint8Array;
}

export function generateEd25519KeyPair(): Ed25519KeyPair {
  const { privateKey } = generateKeyPairSync("ed25519");
  return { publicKey: rawPublicKey(privateKey), secretKey: tweetnaclSecretKey(privateKey) };
}

export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES) throw new TypeError("an Ed25519 public key is 32 bytes");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: toBase64url(publicKey) }, format: "jwk" });
}

/**
 * Node derives the public key from the seed and ignores `x`, so a secret key
 * whose two halves disagree would sign under a key other than the one it
 * claims; refuse it rather than produce signatures nobody can verify.
 */
export function privateKeyObject(secretKey: Uint8Array): KeyObject {
  if (secretKey.byteLength !== SECRET_KEY_BYTES) throw new TypeError("a tweetnacl Ed25519 secret key is 64 bytes");
  const seed = secretKey.subarray(0, SEED_BYTES);
  const claimed = secretKey.subarray(SEED_BYTES);
  const key = createPrivateKey({
    key: { kty: "OKP", crv: "Ed25519", x: toBase64url(claimed), d: toBase64url(seed) },
    format: "jwk",
  });
  if (!Buffer.from(rawPublicKey(key)).equals(claimed)) {
    throw new TypeError("secret key halves disagree: its public half is not derived from its seed");
  }
  return key;
}

/** Raw 32-byte public key of a public or private Ed25519 KeyObject. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return jwkBytes(publicKey.export({ format: "jwk" }).x, "x");
}

/** 64-byte tweetnacl secret key (seed ‖ public) of a private Ed25519 KeyObject. */
export function tweetnaclSecretKey(privateKey: KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: "jwk" });
  const out = new Uint8Array(SECRET_KEY_BYTES);
  out.set(jwkBytes(jwk.d, "d"), 0);
  out.set(jwkBytes(jwk.x, "x"), SEED_BYTES);
  return out;
}

/**
 * `keyid` is the signer's `sign_pub`: exactly 32 bytes in canonical unpadded
 * base64url, so one key has one spelling (user lookups and nonce keys rely on it).
 */
export function decodeKeyId(keyid: string): Uint8Array {
  const bytes = keyid.length === 43 ? fromBase64url(keyid) : undefined;
  if (bytes === undefined || bytes.byteLength !== PUBLIC_KEY_BYTES) {
    throw new SignatureError("bad_keyid", "keyid is not a 32-byte base64url Ed25519 public key");
  }
  // A small-order key verifies forgeries (the identity point: any message); one registered
  // before registration refused them must not authenticate either. Runs per request: the cheap check.
  if (ed25519EncodingProblem(bytes)) throw new SignatureError("bad_keyid", "keyid is a refused (weak) Ed25519 key");
  return bytes;
}

function jwkBytes(value: string | undefined, field: string): Uint8Array {
  const bytes = value === undefined ? undefined : fromBase64url(value);
  if (bytes === undefined || bytes.byteLength !== 32) throw new TypeError(`not an Ed25519 key: JWK ${field}`);
  return bytes;
}
