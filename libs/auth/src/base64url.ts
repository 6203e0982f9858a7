/** Unpadded base64url (RFC 4648 §5), the encoding of `keyid`, `sign_pub` and key files. */

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/**
 * Strict decode: Node's decoder silently skips junk and ignores padding bits,
 * which would let many spellings name one key; here exactly one spelling
 * decodes (the canonical one), anything else is `undefined`.
 */
export function fromBase64url(text: string): Uint8Array | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, "base64url");
  if (bytes.toString("base64url") !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
