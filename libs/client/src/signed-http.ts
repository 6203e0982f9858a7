import type { KeyObject } from "node:crypto";
import { fromBase64url, type KeyFile, privateKeyObject, signRequest } from "@conclave/auth";
import { ConclaveError, errorFromResponse } from "./errors.ts";

export interface RequestOptions {
  json?: unknown;
  /** Raw bytes or a byte stream (blob uploads); the Content-Digest must then be given. */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  contentDigest?: string;
  headers?: Record<string, string>;
  /**
   * Safe to repeat: GETs, HEADs, and idempotent writes (a blob PUT: same bytes,
   * same address). Every attempt is re-signed with a fresh nonce.
   */
  idempotent?: boolean;
  /** Bearer token instead of a signature (gateway routes). */
  bearer?: string;
}

export interface SignedHttpOptions {
  url: string;
  identity: KeyFile;
  /** Attempts for idempotent requests on transient failures (default 4). */
  attempts?: number;
  fetch?: typeof fetch;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Signs every request (RFC 9421, Ed25519, Content-Digest) and retries only
 * what is safe to retry: a non-idempotent POST that timed out may have been
 * applied, so it is never repeated blindly.
 */
export class SignedHttp {
  readonly baseUrl: string;
  readonly identity: KeyFile;
  private readonly secretKey: Uint8Array;
  private readonly privateKey: KeyObject;
  private readonly attempts: number;
  private readonly doFetch: typeof fetch;

  constructor(opts: SignedHttpOptions) {
    this.baseUrl = opts.url.replace(/\/+$/, "");
    this.identity = opts.identity;
    const secret = fromBase64url(opts.identity.signSecretKey);
    if (!secret) throw new Error("the key file's signSecretKey is not base64url");
    this.secretKey = secret;
    this.privateKey = privateKeyObject(secret);
    this.attempts = opts.attempts ?? 4;
    this.doFetch = opts.fetch ?? fetch;
  }

  private sign(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    digest?: string,
  ) {
    // With the bytes at hand the signer computes Content-Digest itself; a precomputed one is
    // only for streamed bodies (sending both would merge into "X, X" and break the signature).
    const all = digest && !body ? { ...headers, "content-digest": digest } : headers;
    const signed = signRequest({
      method,
      url: path,
      headers: all,
      body,
      secretKey: this.secretKey,
      privateKey: this.privateKey,
      keyid: this.identity.signPublicKey,
      ...(digest && !body ? { components: ["@method", "@path", "@query", "content-digest"] } : {}),
    });
    return { ...all, ...(signed as unknown as Record<string, string>) };
  }

  /** Sends one request and returns the response (2xx only; errors throw ConclaveError). */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const idempotent = opts.idempotent ?? (method === "GET" || method === "HEAD");
    const attempts = idempotent && !(opts.body instanceof ReadableStream) ? this.attempts : 1;
    let last: ConclaveError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0)
        await sleep(Math.min(4_000, (last?.retryAfter ?? 0) * 1000 || 100 * 2 ** attempt) * (0.5 + Math.random() / 2));
      const bytes =
        opts.json === undefined
          ? opts.body instanceof Uint8Array
            ? opts.body
            : undefined
          : new TextEncoder().encode(JSON.stringify(opts.json));
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.json !== undefined) headers["content-type"] = "application/json";
      const finalHeaders = opts.bearer
        ? { ...headers, authorization: `Bearer ${opts.bearer}` }
        : this.sign(method, path, headers, bytes, opts.contentDigest);
      let res: Response;
      try {
        res = await this.doFetch(`${this.baseUrl}${path}`, {
          method,
          headers: finalHeaders,
          ...(bytes ? { body: bytes } : opts.body instanceof ReadableStream ? { body: opts.body, duplex: "half" } : {}),
        } as RequestInit);
      } catch (cause) {
        last = new ConclaveError(0, "network_error", `cannot reach ${this.baseUrl}: ${(cause as Error).message}`, {
          cause,
        });
        continue;
      }
      if (res.ok) return res;
      last = await errorFromResponse(res);
      if (!last.transient) throw last;
    }
    throw last ?? new ConclaveError(0, "network_error", "request failed");
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    return (await res.json()) as T;
  }
}
