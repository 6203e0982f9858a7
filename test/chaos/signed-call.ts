import { createHash, randomBytes } from "node:crypto";
import { fromBase64url, type KeyFile, signRequest } from "@conclave/auth";

/** A request as it goes on the wire: re-sending a signed one verbatim is a replay. */
export interface Wire {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** The signature's nonce; bearer requests get a unique `bearer:` stand-in (tokens have no nonce). */
  nonce: string;
}

export interface Answer {
  /** 0 when no HTTP answer came back (timeout, connection refused or reset): outcome unknown. */
  status: number;
  /** Parsed JSON, or the text. */
  body: unknown;
  /** Binary answers (blob downloads): their SHA-256 and size, not the bytes. */
  bytes?: { sha256: string; size: number };
  /** Wire error code and reason, or the network failure. */
  error?: string;
}

/** Signs one request (RFC 9421, Ed25519) with a nonce we know, so the history can group sends by nonce. */
export function signWire(
  identity: KeyFile,
  method: string,
  path: string,
  json?: unknown,
  raw?: { bytes: Uint8Array; contentType: string },
): Wire {
  const body = raw ? raw.bytes : json === undefined ? undefined : new TextEncoder().encode(JSON.stringify(json));
  const headers: Record<string, string> = body ? { "content-type": raw?.contentType ?? "application/json" } : {};
  const nonce = randomBytes(16).toString("base64url");
  const secretKey = fromBase64url(identity.signSecretKey);
  if (!secretKey) throw new Error(`${identity.name}: signSecretKey is not base64url`);
  const signed = signRequest({ method, url: path, headers, body, secretKey, keyid: identity.signPublicKey, nonce });
  return {
    method,
    path,
    headers: { ...headers, ...(signed as unknown as Record<string, string>) },
    ...(body ? { body } : {}),
    nonce,
  };
}

/** A request carrying a session token instead of a signature. */
export function bearerWire(token: string, method: string, path: string, json?: unknown): Wire {
  const body = json === undefined ? undefined : new TextEncoder().encode(JSON.stringify(json));
  return {
    method,
    path,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body } : {}),
    nonce: `bearer:${randomBytes(12).toString("base64url")}`,
  };
}

/** Sends a wire request to one replica; never throws. */
export async function send(baseUrl: string, wire: Wire, timeoutMs: number): Promise<Answer> {
  let res: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    res = await fetch(`${baseUrl}${wire.path}`, {
      method: wire.method,
      headers: wire.headers,
      ...(wire.body ? { body: wire.body } : {}),
      signal,
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { status: 0, body: undefined, error: e.name === "TimeoutError" ? "timeout" : (e.cause?.code ?? e.message) };
  }
  let raw: Buffer;
  try {
    raw = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    // Headers arrived but the body did not: the replica died mid-answer. The status still tells the outcome.
    return { status: res.status, body: undefined, error: `body: ${(err as Error).message}` };
  }
  if (res.headers.get("content-type")?.startsWith("application/octet-stream")) {
    return {
      status: res.status,
      body: undefined,
      bytes: { sha256: createHash("sha256").update(raw).digest("hex"), size: raw.length },
    };
  }
  const text = raw.toString("utf8");
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  if (res.ok) return { status: res.status, body };
  const e = (body as { error?: { code?: string; reason?: string } } | undefined)?.error;
  return { status: res.status, body, error: [e?.code, e?.reason].filter(Boolean).join("/") || String(res.status) };
}
