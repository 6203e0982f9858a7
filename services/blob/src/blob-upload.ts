import { pipeline, type Readable } from "node:stream";
import { isSignatureError, verifyContentDigest } from "@conclave/auth";
import { ApiError } from "@conclave/protocol";
import { ConflictError, StoreError } from "@conclave/store";
import type { BlobQuota } from "./blob-quota.ts";
import type { BlobStore, StoredBlob } from "./blob-store.ts";
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
  /** The declared Content-Length; undefined when chunked. */
  declaredBytes: number | undefined;
  /** The body ceiling: what a chunked upload may turn out to be, so what it reserves. */
  ceilingBytes: number;
  /**
   * The tenant's object at this address, or undefined: a leader read issued with the
   * request's authentication (the route's prefetched reads); throws that read's failure.
   * Called after the declared digest is checked, so a wrong header is a 400 whatever the store.
   */
  existing(): StoredBlob | undefined;
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
 * - A new blob first reserves its worst-case size (declared length, else the
 *   ceiling) and one blob in the tenant's quota, before a byte is stored: a
 *   full tenant is refused (403 with the numbers) and nothing is written. A
 *   blob the tenant already has reserves nothing (and is served as 200 even
 *   when the tenant is full): the lookup went out with authentication, so the
 *   reservation is only asked for when it is needed. It becomes its real size
 *   at commit, and is returned when nothing was surely stored; when the
 *   outcome is unknown its lease charges it.
 * - The commit is not awaited: the answer does not depend on it (a commit that
 *   fails leaves the reservation to its lease, which charges it — an
 *   over-count, as before), and until it lands the reservation counts against
 *   the quota like the stored blob.
 */
export async function receiveUpload(blobs: BlobStore, quota: BlobQuota, req: UploadRequest): Promise<UploadOutcome> {
  checkDeclaredDigest(req);
  const existing = req.existing();
  const verifier = new DigestVerifier(req.sha256);
  // Errors of the body (oversize, client gone, length mismatch) reach the verifier's reader.
  pipeline(req.body, verifier, () => {});
  if (existing && (await blobs.intact(existing))) {
    await drain(verifier);
    return { created: false, sha256: req.sha256, size: existing.size };
  }
  // A broken object (chunks lost) was counted when it was committed: rewriting it is not a new blob.
  const hold = existing ? undefined : await quota.reserve(req.tenant, req.declaredBytes ?? req.ceilingBytes);
  try {
    const stored = await blobs.put(req.tenant, req.sha256, verifier, existing);
    // Not written (store unavailable): the blob is stored all the same, and the lease charges
    // its reservation (at least its size) when it ends — an over-count, never a free blob.
    if (hold) void quota.commit(hold, stored.size).catch(() => undefined);
    return { created: true, sha256: req.sha256, size: stored.size };
  } catch (err) {
    // Surely nothing of ours stored: the body failed, or another upload won the name.
    if (hold && (err instanceof ConflictError || !(err instanceof StoreError))) {
      await quota.release(hold).catch(() => undefined);
    }
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
