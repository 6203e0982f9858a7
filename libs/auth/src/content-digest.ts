import { createHash, timingSafeEqual } from "node:crypto";
import { type InnerList, type Item, isInnerList, parseDictionary } from "structured-headers";
import { SignatureError } from "./signature-error.ts";

/**
 * RFC 9530 `Content-Digest` with sha-256 only: the signature covers this header,
 * and this header binds the body to the signature.
 */

const SHA256_BYTES = 32;
// Same cap as the signature headers: nothing legitimate comes near it.
const MAX_HEADER_LENGTH = 8 * 1024;

export function sha256(body: Uint8Array): Uint8Array {
  return createHash("sha256").update(body).digest();
}

/** `sha-256=:<base64>:` for a raw 32-byte sha-256 digest. */
export function formatContentDigest(sha256Digest: Uint8Array): string {
  if (sha256Digest.byteLength !== SHA256_BYTES) throw new TypeError("a sha-256 digest is 32 bytes");
  return `sha-256=:${Buffer.from(sha256Digest).toString("base64")}:`;
}

/** The `Content-Digest` header value for a whole body. */
export function contentDigest(body: Uint8Array): string {
  return formatContentDigest(sha256(body));
}

export interface ContentDigestHasher {
  update(chunk: Uint8Array): ContentDigestHasher;
  /** Ends the hash; call once. */
  finish(): { sha256: Uint8Array; header: string };
}

/** Hashes a body chunk by chunk, for streams too large to buffer (blob uploads). */
export function createContentDigestHasher(): ContentDigestHasher {
  const hash = createHash("sha256");
  const hasher: ContentDigestHasher = {
    update(chunk) {
      hash.update(chunk);
      return hasher;
    },
    finish() {
      const digest = new Uint8Array(hash.digest());
      return { sha256: digest, header: formatContentDigest(digest) };
    },
  };
  return hasher;
}

/** What the header is checked against: the body itself, or its sha-256 from a streaming hasher. */
export type DigestSubject = { body: Uint8Array } | { sha256: Uint8Array };

/**
 * Throws SignatureError unless `header` carries a sha-256 member equal to the
 * subject's digest. Other algorithms in the header are ignored (RFC 9530 lets
 * the recipient pick), but sha-256 must be there: we never accept a weaker one.
 */
export function verifyContentDigest(header: string | undefined, subject: DigestSubject): void {
  if (header === undefined) throw new SignatureError("missing_digest", "Content-Digest header is absent");
  const claimed = parseSha256Member(header);
  const actual = "body" in subject ? sha256(subject.body) : subject.sha256;
  // Length is public (always 32 here); timingSafeEqual throws on unequal lengths.
  if (actual.byteLength !== SHA256_BYTES || !timingSafeEqual(claimed, actual)) {
    throw new SignatureError("digest_mismatch", "Content-Digest does not match the body");
  }
}

function parseSha256Member(header: string): Uint8Array {
  if (header.length > MAX_HEADER_LENGTH) {
    throw new SignatureError("malformed_digest", "Content-Digest header is too large");
  }
  let member: Item | InnerList | undefined;
  try {
    member = parseDictionary(header).get("sha-256");
  } catch (cause) {
    throw new SignatureError("malformed_digest", "Content-Digest is not a structured dictionary", { cause });
  }
  if (member === undefined) throw new SignatureError("missing_digest", "Content-Digest has no sha-256 member");
  if (isInnerList(member) || !(member[0] instanceof ArrayBuffer) || member[0].byteLength !== SHA256_BYTES) {
    throw new SignatureError("malformed_digest", "Content-Digest sha-256 member is not a 32-byte byte sequence");
  }
  return new Uint8Array(member[0]);
}
