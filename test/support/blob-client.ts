import { createCipheriv, createHash } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { BASE_COMPONENTS, formatContentDigest, fromBase64url, type KeyFile, signRequest } from "@conclave/auth";

// A signed blob client for integration tests and benchmarks: uploads stream
// their bytes from a generator (never a whole 16 MiB payload per request), and
// can lie, stall, vanish mid-body or send chunked, as hostile clients do.

const MiB = 1024 * 1024;

/** Bytes to upload, produced piece by piece. */
export interface BlobSource {
  size: number;
  sha256: string;
  pieces(): Iterable<Buffer>;
}

/** A source over bytes already in memory. */
export function bufferSource(bytes: Buffer, pieceBytes = 256 * 1024): BlobSource {
  return {
    size: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    *pieces() {
      for (let at = 0; at < bytes.length; at += pieceBytes) yield bytes.subarray(at, at + pieceBytes);
    },
  };
}

/**
 * `size` pseudo-random bytes determined by `seed` (an AES-256-CTR keystream),
 * generated on demand: the digest is computed by a first pass, the upload makes
 * a second one, and nothing larger than a piece is ever held.
 */
export function generatedSource(seed: string, size: number, pieceBytes = MiB): BlobSource {
  const key = createHash("sha256").update(seed).digest();
  const zeros = Buffer.alloc(pieceBytes);
  function* pieces(): Generator<Buffer> {
    const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
    for (let left = size; left > 0; left -= pieceBytes) {
      yield cipher.update(left >= pieceBytes ? zeros : zeros.subarray(0, left));
    }
  }
  const hash = createHash("sha256");
  for (const piece of pieces()) hash.update(piece);
  return { size, sha256: hash.digest("hex"), pieces };
}

/** All the bytes of a source (for comparisons in tests). */
export function collect(source: BlobSource): Buffer {
  return Buffer.concat([...source.pieces()]);
}

export interface UploadOptions {
  baseUrl: string;
  /** undefined: an unsigned request. */
  identity: KeyFile | undefined;
  source: BlobSource;
  /** The address in the URL; the source's digest by default. */
  sha256?: string;
  /** The hex SHA-256 announced (and signed) as Content-Digest; the source's digest by default. */
  contentDigestSha256?: string;
  /** Send Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
  /** Destroy the connection after this many body bytes (a client that vanishes). */
  abortAfterBytes?: number;
  /** Send the headers now, the body once this settles (many requests in front of the server at once). */
  holdBodyUntil?: Promise<void>;
}

export interface UploadResult {
  /** undefined when the connection failed before any response arrived. */
  status: number | undefined;
  headers: IncomingHttpHeaders;
  body: unknown;
  error?: string;
}

/** Headers that sign a request; `contentDigest` is covered when given. */
export function signedHeaders(
  identity: KeyFile,
  method: string,
  path: string,
  contentDigest?: string,
): Record<string, string> {
  const headers: Record<string, string> = contentDigest ? { "content-digest": contentDigest } : {};
  const signed = signRequest({
    method,
    url: path,
    headers,
    secretKey: fromBase64url(identity.signSecretKey) as Uint8Array,
    keyid: identity.signPublicKey,
    components: contentDigest ? [...BASE_COMPONENTS, "content-digest"] : BASE_COMPONENTS,
  });
  return { ...headers, "signature-input": signed["Signature-Input"], signature: signed.Signature };
}

/**
 * PUT /v1/blobs/{sha256} from a source, with backpressure. Stops sending as soon
 * as a response arrives (as any sane client does on an early 413/503).
 */
export function uploadBlob(options: UploadOptions): Promise<UploadResult> {
  const { source } = options;
  const sha256 = options.sha256 ?? source.sha256;
  const path = `/v1/blobs/${sha256}`;
  const digest = formatContentDigest(Buffer.from(options.contentDigestSha256 ?? source.sha256, "hex"));
  const headers: Record<string, string> = {
    "content-type": "application/octet-stream",
    ...(options.identity ? signedHeaders(options.identity, "PUT", path, digest) : {}),
  };
  if (!options.chunked) headers["content-length"] = String(source.size);
  const url = new URL(options.baseUrl);
  return new Promise((resolve) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: "PUT", path, headers, agent: false });
    let responded = false;
    let settled = false;
    const settle = (result: UploadResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on("response", (res) => {
      responded = true;
      const parts: Buffer[] = [];
      res.on("data", (b: Buffer) => parts.push(b));
      res.on("end", () => {
        settle({ status: res.statusCode, headers: res.headers, body: parseBody(Buffer.concat(parts)) });
        req.destroy();
      });
      res.on("error", () => settle({ status: res.statusCode, headers: res.headers, body: undefined }));
    });
    req.on("error", (err: Error & { code?: string }) => {
      if (!responded) settle({ status: undefined, headers: {}, body: undefined, error: err.code ?? err.message });
    });

    const pieces = source.pieces()[Symbol.iterator]();
    const limit = options.abortAfterBytes ?? Number.POSITIVE_INFINITY;
    let sent = 0;
    const pump = (): void => {
      while (!responded && !req.destroyed) {
        if (sent >= limit) {
          // Let the bytes reach the server (and its store) before vanishing.
          setTimeout(() => {
            req.destroy();
            settle({ status: undefined, headers: {}, body: undefined, error: "aborted by test" });
          }, 300);
          return;
        }
        const next = pieces.next();
        if (next.done) {
          req.end();
          return;
        }
        const piece = sent + next.value.length > limit ? next.value.subarray(0, limit - sent) : next.value;
        sent += piece.length;
        if (!req.write(piece)) {
          req.once("drain", pump);
          return;
        }
      }
    };
    if (options.holdBodyUntil) {
      req.flushHeaders();
      void options.holdBodyUntil.then(pump);
    } else {
      pump();
    }
  });
}

export interface FetchedBlob {
  status: number;
  headers: Headers;
  bytes: Buffer;
}

/** A signed GET or HEAD of a blob, with extra headers (Range, If-None-Match...). */
export async function fetchBlob(
  baseUrl: string,
  identity: KeyFile | undefined,
  sha256: string,
  method: "GET" | "HEAD" = "GET",
  extra: Record<string, string> = {},
): Promise<FetchedBlob> {
  const path = `/v1/blobs/${sha256}`;
  const headers = { ...extra, ...(identity ? signedHeaders(identity, method, path) : {}) };
  const res = await fetch(`${baseUrl}${path}`, { method, headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

function parseBody(bytes: Buffer): unknown {
  const text = bytes.toString("utf8");
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}
