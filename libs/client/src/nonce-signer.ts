import { sign } from "node:crypto";
import { privateKeyObject } from "@conclave/auth";

/**
 * nats-server's connect nonce: 11 random bytes in unpadded base64url (15
 * characters). Accepting a little more keeps us working if the server grows
 * it, but nothing else: no dots, spaces, braces, quotes or line breaks, so no
 * request signature base (RFC 9421) and no room envelope (its signed part has
 * line breaks) can be passed off as a nonce to get it signed with the bot's key.
 */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{11,64}$/;

export class NonceRefusedError extends Error {
  override readonly name = "NonceRefusedError";
}

/**
 * Signs a server's connect nonce with the bot's Ed25519 key, and only that:
 * a hostile or compromised server chooses the nonce, so anything that does
 * not look like one is refused before the key is touched.
 */
export function nonceSigner(secretKey: Uint8Array): (nonce: string) => Uint8Array {
  const key = privateKeyObject(secretKey);
  return (nonce) => {
    if (typeof nonce !== "string" || !NONCE_PATTERN.test(nonce)) {
      throw new NonceRefusedError("the server's nonce is not a short base64url string: refusing to sign it");
    }
    return new Uint8Array(sign(null, Buffer.from(nonce, "ascii"), key));
  };
}
