import { type Principal, readInTenant } from "@conclave/auth";
import { streamBody } from "@conclave/http";
import { ApiError, type BlobRef, isApiError } from "@conclave/protocol";
import { prefetched, principalOf, type RouteReads } from "@conclave/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type BlobAction, mayUseBlobs } from "./blob-access.ts";
import { blobParams, etagOf } from "./blob-address.ts";
import type { BlobMetrics } from "./blob-metrics.ts";
import type { BlobQuota } from "./blob-quota.ts";
import type { BlobStore, StoredBlob } from "./blob-store.ts";
import { receiveUpload } from "./blob-upload.ts";
import { resolveRange } from "./byte-range.ts";
import { DIGEST_MISMATCH } from "./digest-verifier.ts";

const ROUTE = "/v1/blobs/:sha256";
const OCTET_STREAM = "application/octet-stream";

/**
 * Blob routes (docs/blobs.md): signed users of the tenant; blobs are per tenant. Store failures propagate to the edge's
 * one mapping (libs/http store-errors.ts): 503 with Retry-After, their detail only in the log.
 */
export interface BlobRouteDeps {
  blobs: BlobStore;
  quota: BlobQuota;
  metrics: BlobMetrics;
  /** The blob body ceiling (CONCLAVE_BLOB_BODY_BYTES): what a chunked upload reserves. */
  ceilingBytes: number;
}

export function registerBlobRoutes(app: FastifyInstance, deps: BlobRouteDeps): void {
  const { blobs, quota, metrics } = deps;
  // The blob's meta message, read with the allowlist read under the signer's last tenant
  // (readInTenant) and witnessed by the nonce claim: one round trip off every blob request.
  // A bad address reads nothing; the route answers its 400.
  const lookup: RouteReads<StoredBlob | undefined> = async (request, signer) => {
    const params = blobParams.safeParse(request.params);
    return params.success ? readInTenant(signer, (caller) => blobs.stat(caller.tenant, params.data.sha256)) : undefined;
  };
  const signed = (body: "stream" | "none") => ({ body, auth: "signed" as const, reads: lookup });

  app.put(ROUTE, { config: signed("stream") }, async (request, reply) => {
    const principal = authorize(request, "write");
    const { sha256 } = blobParams.parse(request.params);
    const outcome = await receiveUpload(blobs, quota, {
      tenant: principal.tenant,
      sha256,
      body: streamBody(request),
      contentDigest: headerValue(request, "content-digest"),
      hasBody: declaresBody(request),
      declaredBytes: declaredLength(request),
      ceilingBytes: deps.ceilingBytes,
      existing: () => prefetched(request, lookup),
    }).catch((err: unknown) => {
      if (isApiError(err) && err.reason === DIGEST_MISMATCH) metrics.upload("digest_mismatch");
      if (isApiError(err) && err.reason === "blob_quota") metrics.upload("quota_exceeded");
      throw err;
    });
    metrics.upload(outcome.created ? "created" : "deduplicated");
    if (outcome.created) metrics.bytes("stored", outcome.size);
    return reply
      .code(outcome.created ? 201 : 200)
      .send({ sha256: outcome.sha256, size: outcome.size } satisfies BlobRef);
  });

  app.head(ROUTE, { config: signed("none") }, async (request, reply) => {
    const blob = findBlob(request, lookup);
    return describe(reply.code(200), blob).header("content-length", String(blob.size)).send();
  });

  app.get(ROUTE, { exposeHeadRoute: false, config: signed("none") }, async (request, reply) => {
    const blob = findBlob(request, lookup);
    if (matchesEtag(headerValue(request, "if-none-match"), blob.sha256)) return describe(reply.code(304), blob).send();
    // If-Range with another validator: the client's partial copy is stale, send it all.
    const ifRange = headerValue(request, "if-range");
    const rangeHeader = ifRange === undefined || ifRange === etagOf(blob.sha256) ? request.headers.range : undefined;
    const range = resolveRange(rangeHeader, blob.size);
    if (range.kind === "unsatisfiable") {
      throw new ApiError("range_not_satisfiable", `the blob has ${blob.size} bytes`, {
        headers: { "content-range": `bytes */${blob.size}` },
      });
    }
    if (range.kind === "partial") {
      const body = await blobs.open(blob, range);
      metrics.bytes("served", range.end - range.start + 1);
      return describe(reply.code(206), blob)
        .header("content-range", `bytes ${range.start}-${range.end}/${blob.size}`)
        .header("content-length", String(range.end - range.start + 1))
        .send(body);
    }
    const body = await blobs.open(blob);
    metrics.bytes("served", blob.size);
    return describe(reply.code(200), blob).header("content-length", String(blob.size)).send(body);
  });
}

/** The caller, set by the signed-request hook, allowed to `action` blobs of its tenant. */
function authorize(request: FastifyRequest, action: BlobAction): Principal {
  const principal = principalOf(request);
  if (!mayUseBlobs(principal, action)) throw new ApiError("forbidden", `this user may not ${action} blobs`);
  return principal;
}

/** The tenant's blob named by the URL; another tenant's blob is as unknown as a missing one. */
function findBlob(request: FastifyRequest, lookup: RouteReads<StoredBlob | undefined>): StoredBlob {
  authorize(request, "read");
  blobParams.parse(request.params);
  const blob = prefetched(request, lookup);
  if (!blob) throw new ApiError("not_found", "no such blob");
  return blob;
}

/** Headers of a successful answer, set only once nothing can fail any more (errors are JSON). */
function describe(reply: FastifyReply, blob: StoredBlob): FastifyReply {
  return reply
    .header("etag", etagOf(blob.sha256))
    .header("content-type", OCTET_STREAM)
    .header("accept-ranges", "bytes");
}

function matchesEtag(header: string | undefined, sha256: string): boolean {
  if (header === undefined) return false;
  const tag = etagOf(sha256);
  return header.split(",").some((t) => {
    const candidate = t.trim();
    return candidate === "*" || candidate === tag || candidate === `W/${tag}`;
  });
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** The declared Content-Length (the edge already refused one above the ceiling), or undefined. */
function declaredLength(request: FastifyRequest): number | undefined {
  const length = request.headers["content-length"];
  return length !== undefined && /^\d{1,16}$/.test(length) ? Number(length) : undefined;
}

function declaresBody(request: FastifyRequest): boolean {
  const length = request.headers["content-length"];
  return request.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}
