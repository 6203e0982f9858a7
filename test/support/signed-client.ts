import { fromBase64url, type KeyFile, signRequest } from "@conclave/auth";

// A minimal signed HTTP client for integration tests (the SDK in libs/client supersedes it for users).

export interface SignedResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface SignOverrides {
  nonce?: string;
  created?: number;
  /** Mutates what goes on the wire after signing (tamper tests). */
  tamper?: (req: { path: string; body: Uint8Array | undefined; headers: Record<string, string> }) => void;
  /** Sign with another identity's secret key while claiming `identity`'s keyid. */
  secretKey?: Uint8Array;
}

export async function signedFetch(
  baseUrl: string,
  identity: KeyFile,
  method: string,
  path: string,
  json?: unknown,
  overrides: SignOverrides = {},
): Promise<SignedResponse> {
  const body = json === undefined ? undefined : new TextEncoder().encode(JSON.stringify(json));
  const headers: Record<string, string> = body ? { "content-type": "application/json" } : {};
  const signed = signRequest({
    method,
    url: path,
    headers,
    body,
    secretKey: overrides.secretKey ?? (fromBase64url(identity.signSecretKey) as Uint8Array),
    keyid: identity.signPublicKey,
    ...(overrides.nonce ? { nonce: overrides.nonce } : {}),
    ...(overrides.created ? { created: overrides.created } : {}),
  });
  const wire = { path, body, headers: { ...headers, ...(signed as unknown as Record<string, string>) } };
  overrides.tamper?.(wire);
  const res = await fetch(`${baseUrl}${wire.path}`, {
    method,
    headers: wire.headers,
    ...(wire.body ? { body: wire.body } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
