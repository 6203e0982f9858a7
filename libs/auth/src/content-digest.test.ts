import { describe, expect, it } from "vitest";
import { contentDigest, createContentDigestHasher, sha256, verifyContentDigest } from "./content-digest.ts";

const body = new TextEncoder().encode('{"hello": "world"}');
// RFC 9530 §2 example for this body.
const RFC_9530_SHA256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
const RFC_9530_SHA512 =
  "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

describe("Content-Digest", () => {
  it("matches the RFC 9530 example", () => {
    expect(contentDigest(body)).toBe(RFC_9530_SHA256);
  });

  it("the incremental hasher agrees with the one-shot digest", () => {
    const hasher = createContentDigestHasher();
    for (let i = 0; i < body.length; i += 5) hasher.update(body.subarray(i, i + 5));
    const { sha256: digest, header } = hasher.finish();
    expect(header).toBe(RFC_9530_SHA256);
    expect(() => verifyContentDigest(header, { sha256: digest })).not.toThrow();
  });

  it("accepts a matching sha-256 member, whatever other algorithms sit beside it", () => {
    expect(() => verifyContentDigest(RFC_9530_SHA256, { body })).not.toThrow();
    const both = `${RFC_9530_SHA512}, ${RFC_9530_SHA256}`;
    expect(() => verifyContentDigest(both, { body })).not.toThrow();
    expect(() => verifyContentDigest(contentDigest(new Uint8Array()), { body: new Uint8Array() })).not.toThrow();
  });

  it("accepts a matching sha-512 member alone (RFC 9530 example)", () => {
    expect(() => verifyContentDigest(RFC_9530_SHA512, { body })).not.toThrow();
    expect(() => verifyContentDigest(RFC_9530_SHA512, { body: new Uint8Array([1]) })).toThrow(
      expect.objectContaining({ reason: "digest_mismatch" }),
    );
  });

  it("a streamed body checked by its sha-256 needs a sha-256 member: sha-512 alone cannot be checked", () => {
    expect(() => verifyContentDigest(RFC_9530_SHA512, { sha256: sha256(body) })).toThrow(
      expect.objectContaining({ reason: "missing_digest" }),
    );
  });

  it.each([
    ["an absent header", undefined, "missing_digest"],
    ["a header with neither sha-256 nor sha-512", "md5=:AAAA:, sha=:AAAA:", "missing_digest"],
    ["a truncated sha-512", "sha-512=:AAAA:", "malformed_digest"],
    ["a wrong sha-512 beside a right sha-256", `${RFC_9530_SHA256}, sha-512=:${"A".repeat(86)}==:`, "digest_mismatch"],
    ["a digest of another body", contentDigest(new Uint8Array([1])), "digest_mismatch"],
    ["a digest one bit off", RFC_9530_SHA256.replace("X48", "Y48"), "digest_mismatch"],
    ["a truncated digest", "sha-256=:AAAA:", "malformed_digest"],
    ["a digest given as a string", `sha-256="${Buffer.from(sha256(body)).toString("base64")}"`, "malformed_digest"],
    ["a header that is not a dictionary", "sha-256=:X48E9q", "malformed_digest"],
    ["an oversized header", `a=${"1,a=".repeat(3000)}1`, "malformed_digest"],
  ] as const)("%s is rejected", (_name, header, reason) => {
    expect(() => verifyContentDigest(header, { body })).toThrow(expect.objectContaining({ reason }));
  });
});
