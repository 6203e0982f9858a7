import { verify } from "node:crypto";
import type { Parameters } from "structured-headers";
import { verifyContentDigest } from "./content-digest.ts";
import { decodeKeyId } from "./ed25519-keys.ts";
import type { PublicKeyCache } from "./public-key-cache.ts";
import { buildSignatureBase, type HeaderMap, rawFieldValue } from "./signature-base.ts";
import { SignatureError } from "./signature-error.ts";
import { parseSignatureHeaders, type SignatureInput } from "./signature-input.ts";

/**
 * The server side: proves who signed a request and that it is fresh. It does
 * not look the signer up nor claim the nonce: those need the store and come
 * after this check, so unregistered keys cannot poison the nonce bucket.
 */

export interface ReceivedRequest {
  method: string;
  /** `path?query` exactly as on the request line. */
  url: string;
  /** Lowercased names. */
  headers: HeaderMap;
  body?: Uint8Array | undefined;
  /**
   * True when a body is coming but is streamed to its consumer unread: the
   * signature must cover content-digest, whose value the consumer checks.
   */
  streamedBody?: boolean;
  /** The scheme the server was reached by: needed only if a signature covers @scheme or @target-uri. */
  scheme?: string | undefined;
  /** The authority the server was addressed by (docs/auth.md: behind a proxy); the Host field when absent. */
  authority?: string | undefined;
}

export interface VerificationPolicy {
  maxSkewSeconds: number;
  /**
   * Alternatives: a signature is considered when it covers every component of
   * at least one of them (RFC 9421 leaves the choice of coverage to the verifier).
   */
  acceptedCoverage: readonly (readonly string[])[];
  requireDigestWhenBody: boolean;
  maxNonceLength: number;
  /** Milliseconds since the epoch: the service's clock, a test clock in tests. */
  now: () => number;
}

export interface VerifierDeps {
  keyCache: PublicKeyCache;
}

export interface VerifiedSignature {
  keyid: string;
  nonce: string;
  created: number;
  label: string;
  coveredComponents: readonly string[];
}

const ED25519_SIGNATURE_BYTES = 64;

/**
 * docs/auth.md: ±30 s; "@method" and the whole target, as "@path" "@query" or as
 * "@target-uri" (or "@request-target", the same bytes for the origin-form
 * targets the edge admits); digest for bodies; nonces up to 64 chars.
 */
export const CONCLAVE_COVERAGE: readonly (readonly string[])[] = [
  ["@method", "@path", "@query"],
  ["@method", "@target-uri"],
  ["@method", "@request-target"],
];

export function conclavePolicy(now: () => number): VerificationPolicy {
  return {
    maxSkewSeconds: 30,
    acceptedCoverage: CONCLAVE_COVERAGE,
    requireDigestWhenBody: true,
    maxNonceLength: 64,
    now,
  };
}

/** Throws SignatureError with the first failed check, in the order the spec lists them. */
export function verifyRequest(
  request: ReceivedRequest,
  policy: VerificationPolicy,
  deps: VerifierDeps,
): VerifiedSignature {
  // What is verified is what is routed: a fragment is never part of a request target,
  // and a router may read what follows `#` as the query (issue 15, item 1).
  if (request.url.includes("#")) {
    throw new SignatureError("invalid_component_value", "the request target carries a fragment");
  }
  // Raw values: the RFC 8941 parser, not the base builder, judges these headers' characters.
  const parsed = parseSignatureHeaders(
    rawFieldValue(request.headers, "signature-input"),
    rawFieldValue(request.headers, "signature"),
  );
  const input = parsed.inputs.find((i) =>
    policy.acceptedCoverage.some((coverage) => coverage.every((c) => i.components.includes(c))),
  );
  if (input === undefined) {
    throw new SignatureError("missing_component", "no signature covers the required components");
  }
  const signature = parsed.signatures.get(input.label);
  if (signature === undefined) throw new SignatureError("malformed_signature", `Signature has no ${input.label}`);

  const created = checkClock(input.params, policy);
  const nonce = checkNonce(input.params, policy.maxNonceLength);
  const keyid = input.params.get("keyid");
  if (typeof keyid !== "string") throw new SignatureError("bad_keyid", "keyid is absent or not a string");
  decodeKeyId(keyid);
  const alg = input.params.get("alg");
  if (alg !== undefined && alg !== "ed25519") throw new SignatureError("bad_alg", "alg must be ed25519");
  checkBody(request, input, policy);

  // Parameters and digest are checked before the signature so that cheap
  // rejections stay cheap; none of them is trusted until this succeeds.
  const base = buildSignatureBase(request, input.components, input.params);
  if (!verifyEd25519(base, signature, deps.keyCache, keyid)) {
    throw new SignatureError("bad_signature", "the signature does not verify");
  }
  return { keyid, nonce, created, label: input.label, coveredComponents: input.components };
}

function checkClock(params: Parameters, policy: VerificationPolicy): number {
  const created = params.get("created");
  if (typeof created !== "number" || !Number.isSafeInteger(created)) {
    throw new SignatureError("bad_created", "created is absent or not an integer");
  }
  const nowMs = policy.now();
  const skewMs = policy.maxSkewSeconds * 1000;
  // Too far ahead is a broken (or lying) clock; too far behind is a replay outside the nonce window.
  if (created * 1000 > nowMs + skewMs) throw new SignatureError("bad_created", "created is in the future");
  if (created * 1000 < nowMs - skewMs) throw new SignatureError("expired", "created is outside the clock window");
  const expires = params.get("expires");
  if (expires !== undefined) {
    if (typeof expires !== "number" || !Number.isSafeInteger(expires)) {
      throw new SignatureError("malformed_signature_input", "expires is not an integer");
    }
    if (expires * 1000 < nowMs) throw new SignatureError("expired", "the signature has expired");
  }
  return created;
}

function checkNonce(params: Parameters, maxLength: number): string {
  const nonce = params.get("nonce");
  // Anti-replay is by nonce: without one, a captured request replays freely inside the window.
  if (typeof nonce !== "string" || nonce.length === 0) {
    throw new SignatureError("bad_nonce", "nonce is absent, empty or not a string");
  }
  if (nonce.length > maxLength) throw new SignatureError("nonce_too_long", `nonce exceeds ${maxLength} characters`);
  return nonce;
}

function checkBody(request: ReceivedRequest, input: SignatureInput, policy: VerificationPolicy): void {
  if (request.streamedBody) {
    // The body has not been read yet (blob uploads): the digest must be covered
    // now and is compared by the consumer that hashes the stream.
    if (!input.components.includes("content-digest")) {
      throw new SignatureError("missing_digest", "a streamed body must be covered by content-digest");
    }
    return;
  }
  const body = request.body ?? new Uint8Array(0);
  if (input.components.includes("content-digest")) {
    verifyContentDigest(rawFieldValue(request.headers, "content-digest"), { body });
  } else if (body.byteLength > 0 && policy.requireDigestWhenBody) {
    // An uncovered body could be swapped by anyone on the path.
    throw new SignatureError("missing_digest", "the body is not covered by content-digest");
  }
}

function verifyEd25519(base: string, signature: Uint8Array, keys: PublicKeyCache, keyid: string): boolean {
  if (signature.byteLength !== ED25519_SIGNATURE_BYTES) return false;
  const { key, cached } = keys.resolve(keyid);
  let ok: boolean;
  try {
    ok = verify(null, Buffer.from(base, "ascii"), key, signature);
  } catch (cause) {
    throw new SignatureError("bad_signature", "the signature cannot be checked", { cause });
  }
  if (ok && !cached) keys.admit(keyid, key);
  return ok;
}
