import { pipeline, type Readable } from "node:stream";
import { isSignatureError, verifyContentDigest } from "@conclave/auth";
import { ApiError } from "@conclave/protocol";
import { ConflictError } from "@conclave/store";
import type { BlobStore } from "./blob-store.ts";
import { DIGEST_MISMATCH, DigestVerifier } from "./digest-verifier.ts";

export interface UploadRequest {
  tenant: string;
  sha256: string;
  /** The byte-counted request body (the edge enforces the size ceiling on it). */
  body: Readable;
  /** The signed `Content-Digest` header, if sent. */
  contentDigest: string | undefined;
  /** True when the request declares a body (non-zero Content-Length, or chunked). */
  hasBody: boolean;
}

export interface UploadOutcome {
  /** true: stored now (201); false: the tenant already had it (200). */
  created: boolean;
  sha256: string;
  size: number;
}

/**
 * PUT /v1/blobs/{sha256}: one pass over the body, hashed once, never buffered.
 *
 * - The signed Content-Digest must name the same SHA-256 as the URL, checked
 *   before a byte is read; the bytes must then hash to it, checked at the end of
 *   the stream before the object is committed. A mismatch stores nothing (400).
 * - A blob the tenant already has is not stored again (200). Its body is still
 *   read and checked, not refused: a response sent while a client is mid-upload
 *   reaches most HTTP/1.1 clients as a reset, and the body is bounded and
 *   already reserved by the edge. Clients that want to skip the bytes HEAD first.
 * - Two concurrent uploads of the same blob: the first to commit answers 201,
 *   the other loses the create-only meta write and answers 200 — same bytes,
 *   same address, one object.
 */
export async function receiveUpload(blobs: BlobStore, req: UploadRequest): Promise<UploadOutcome> {
  checkDeclaredDigest(req);
  const verifier = new DigestVerifier(req.sha256);
  // Errors of the body (oversize, client gone, length mismatch) reach the verifier's reader.
  pipeline(req.body, verifier, () => {});

  const existing = await blobs.stat(req.tenant, req.sha256);
  if (existing && (await blobs.intact(existing))) {
    await drain(verifier);
    return { created: false, sha256: req.sha256, size: existing.size };
  }
  try {
    const stored = await blobs.put(req.tenant, req.sha256, verifier, existing);
    return { created: true, sha256: req.sha256, size: stored.size };
  } catch (err) {
    // Lost the create-only write: someone committed this name while we streamed. The
    // meta write comes last, so our bytes were read and verified in full by then.
    if (!(err instanceof ConflictError) || !verifier.verified) throw err;
    const winner = await blobs.stat(req.tenant, req.sha256);
    if (!winner) throw err;
    return { created: false, sha256: req.sha256, size: winner.size };
  }
}

function checkDeclaredDigest(req: UploadRequest): void {
  if (req.contentDigest === undefined) {
    // The signed-request hook already refuses a streamed body whose signature does
    // not cover content-digest; this keeps the rule when auth runs in another mode.
    if (req.hasBody) throw new ApiError("bad_request", "a blob upload needs a Content-Digest header");
    return;
  }
  try {
    verifyContentDigest(req.contentDigest, { sha256: Buffer.from(req.sha256, "hex") });
  } catch (err) {
    if (!isSignatureError(err)) throw err;
    const message =
      err.reason === DIGEST_MISMATCH
        ? "Content-Digest does not match the blob's address"
        : "Content-Digest needs a sha-256 member";
    throw new ApiError("bad_request", message, { reason: err.reason, cause: err });
  }
}

async function drain(source: Readable): Promise<void> {
  for await (const _ of source) {
    // Hashed by the verifier; nothing kept.
  }
}
