import { createHash, timingSafeEqual } from "node:crypto";
import { type InnerList, type Item, isInnerList, parseDictionary } from "structured-headers";
import { SignatureError } from "./signature-error.ts";

/**
 * RFC 9530 `Content-Digest`: the signature covers this header, and this header
 * binds the body to the signature. Conclave writes sha-256 and accepts sha-256
 * or sha-512; the insecure algorithms of the registry (md5, sha, crc32, ...)
 * are never what binds a body.
 */

const ALGORITHMS = { "sha-256": 32, "sha-512": 64 } as const;
type Algorithm = keyof typeof ALGORITHMS;
// Same cap as the signature headers: nothing legitimate comes near it.
const MAX_HEADER_LENGTH = 8 * 1024;

export function sha256(body: Uint8Array): Uint8Array {
  return createHash("sha256").update(body).digest();
}

/** `sha-256=:<base64>:` for a raw 32-byte sha-256 digest. */
export function formatContentDigest(sha256Digest: Uint8Array): string {
  if (sha256Digest.byteLength !== ALGORITHMS["sha-256"]) throw new TypeError("a sha-256 digest is 32 bytes");
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

/**
 * What the header is checked against: the body itself (any accepted algorithm
 * can be computed), or the sha-256 a streaming hasher computed (blob uploads,
 * whose address is that sha-256: the header must then carry sha-256).
 */
export type DigestSubject = { body: Uint8Array } | { sha256: Uint8Array };

/**
 * Throws SignatureError unless `header` carries at least one accepted member
 * that can be checked against the subject, and every such member matches.
 * Other algorithms in the header are ignored (RFC 9530 lets the recipient
 * pick); a header with none of ours is `missing_digest`.
 */
export function verifyContentDigest(header: string | undefined, subject: DigestSubject): void {
  if (header === undefined) throw new SignatureError("missing_digest", "Content-Digest header is absent");
  const claimed = parseAcceptedMembers(header);
  const checkable = "body" in subject ? claimed : claimed.filter(([algorithm]) => algorithm === "sha-256");
  if (checkable.length === 0) {
    const wanted = "body" in subject ? "sha-256 or sha-512" : "sha-256";
    throw new SignatureError("missing_digest", `Content-Digest has no ${wanted} member`);
  }
  for (const [algorithm, digest] of checkable) {
    const actual = "body" in subject ? hashOf(algorithm, subject.body) : subject.sha256;
    // Lengths are public (fixed per algorithm); timingSafeEqual throws on unequal lengths.
    if (actual.byteLength !== digest.byteLength || !timingSafeEqual(digest, actual)) {
      throw new SignatureError("digest_mismatch", "Content-Digest does not match the body");
    }
  }
}

function hashOf(algorithm: Algorithm, body: Uint8Array): Uint8Array {
  return createHash(algorithm === "sha-256" ? "sha256" : "sha512")
    .update(body)
    .digest();
}

function parseAcceptedMembers(header: string): [Algorithm, Uint8Array][] {
  if (header.length > MAX_HEADER_LENGTH) {
    throw new SignatureError("malformed_digest", "Content-Digest header is too large");
  }
  let dictionary: Map<string, Item | InnerList>;
  try {
    dictionary = parseDictionary(header);
  } catch (cause) {
    throw new SignatureError("malformed_digest", "Content-Digest is not a structured dictionary", { cause });
  }
  const members: [Algorithm, Uint8Array][] = [];
  for (const algorithm of Object.keys(ALGORITHMS) as Algorithm[]) {
    const member = dictionary.get(algorithm);
    if (member === undefined) continue;
    if (isInnerList(member) || !(member[0] instanceof ArrayBuffer) || member[0].byteLength !== ALGORITHMS[algorithm]) {
      throw new SignatureError(
        "malformed_digest",
        `Content-Digest ${algorithm} member is not a ${ALGORITHMS[algorithm]}-byte byte sequence`,
      );
    }
    members.push([algorithm, new Uint8Array(member[0])]);
  }
  return members;
}
