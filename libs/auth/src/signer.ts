import { type KeyObject, randomBytes, sign } from "node:crypto";
import { serializeKey } from "structured-headers";
import { toBase64url } from "./base64url.ts";
import { contentDigest } from "./content-digest.ts";
import { privateKeyObject } from "./ed25519-keys.ts";
import {
  buildSignatureBase,
  type HeaderMap,
  type SignatureParams,
  serializeSignatureParams,
} from "./signature-base.ts";

/** The bot side: signs a request the way Conclave's verifier (and any RFC 9421 verifier) expects. */

export interface SignRequestOptions {
  method: string;
  /** Path and query as they will go on the request line, or a full URL. */
  url: string;
  /** Headers that will be sent; names in any case. Covered fields must be here. */
  headers?: HeaderMap;
  body?: Uint8Array | undefined;
  /** 64 bytes, tweetnacl layout (seed ‖ public). */
  secretKey: Uint8Array;
  /**
   * The same key as a node:crypto KeyObject, when the caller keeps one: building
   * it from the raw bytes (and checking its halves) costs more than the signature.
   */
  privateKey?: KeyObject;
  /** The signer's sign_pub, base64url without padding. */
  keyid: string;
  /** Default: 128 random bits, base64url. */
  nonce?: string;
  /** Unix seconds. Default: now. */
  created?: number;
  /** Unix seconds; omitted by default (the server's window already bounds a signature's life). */
  expires?: number;
  label?: string;
  /** Default: "@method" "@path" "@query", plus "content-digest" when there is a body. */
  components?: readonly string[];
  /** Only for @scheme / @target-uri with an origin-form url. */
  scheme?: string;
}

export interface SignatureHeaders {
  "Signature-Input": string;
  Signature: string;
  "Content-Digest"?: string;
}

export const DEFAULT_LABEL = "sig1";
export const BASE_COMPONENTS = ["@method", "@path", "@query"] as const;

export function defaultComponents(hasBody: boolean): readonly string[] {
  return hasBody ? [...BASE_COMPONENTS, "content-digest"] : BASE_COMPONENTS;
}

/** Headers to add to the request: Signature-Input, Signature, and Content-Digest when there is a body. */
export function signRequest(options: SignRequestOptions): SignatureHeaders {
  const label = options.label ?? DEFAULT_LABEL;
  // Fail here, in the caller's stack, rather than emit a header nobody can parse.
  serializeKey(label);
  const key = options.privateKey ?? privateKeyObject(options.secretKey);
  const digest = options.body === undefined ? undefined : contentDigest(options.body);

  // fromEntries defines own properties, so even a "__proto__" header stays a plain field.
  const headers: Record<string, string | readonly string[] | undefined> = Object.fromEntries(
    Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  if (digest !== undefined) headers["content-digest"] = digest;

  const components = options.components ?? defaultComponents(digest !== undefined);
  const params: SignatureParams = {
    created: options.created ?? Math.floor(Date.now() / 1000),
    expires: options.expires,
    nonce: options.nonce ?? toBase64url(randomBytes(16)),
    keyid: options.keyid,
    alg: "ed25519",
  };
  const base = buildSignatureBase(
    { method: options.method, url: options.url, headers, scheme: options.scheme },
    components,
    params,
  );
  const signature = sign(null, Buffer.from(base, "ascii"), key);

  const out: SignatureHeaders = {
    "Signature-Input": `${label}=${serializeSignatureParams(components, params)}`,
    Signature: `${label}=:${signature.toString("base64")}:`,
  };
  if (digest !== undefined) out["Content-Digest"] = digest;
  return out;
}
