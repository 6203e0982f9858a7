import { z } from "zod";

/**
 * A blob's address: the SHA-256 of its bytes, 64 lowercase hex digits. Upper
 * case is refused rather than folded, so one blob has exactly one URL (and one
 * ETag, and one object name).
 */
const SHA256_HEX = /^[0-9a-f]{64}$/;

export const blobParams = z
  .object({ sha256: z.string().regex(SHA256_HEX, "must be the blob's SHA-256: 64 lowercase hex digits") })
  .strict();

export type BlobParams = z.infer<typeof blobParams>;

/** SHA-256 of zero bytes: the address of the empty blob. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * The Object Store name of a tenant's blob. Every tenant has its own copy of
 * the same bytes: a shared name would let one tenant learn, from a 200 instead
 * of a 201 (or from timing), that another tenant stored those bytes.
 * Tenant ids cannot contain "/" (protocol TENANT_PATTERN), so names cannot collide.
 */
export function objectName(tenant: string, sha256: string): string {
  return `${tenant}/${sha256}`;
}

/** Strong ETag: the content address itself. */
export function etagOf(sha256: string): string {
  return `"${sha256}"`;
}
