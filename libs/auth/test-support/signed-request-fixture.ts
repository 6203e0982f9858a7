import type { Principal } from "../src/authenticate.ts";
import { toBase64url } from "../src/base64url.ts";
import { type Ed25519KeyPair, generateEd25519KeyPair } from "../src/ed25519-keys.ts";
import { PublicKeyCache } from "../src/public-key-cache.ts";
import { type SignRequestOptions, signRequest } from "../src/signer.ts";
import { conclavePolicy, type ReceivedRequest, type VerificationPolicy, type VerifierDeps } from "../src/verifier.ts";

/** Test support only (outside src, not exported from index): a signer, a verifier setup and a fixed clock. */

export const NOW_MS = 1_700_000_000_000;
export const NOW_S = NOW_MS / 1000;

export interface SigningFixture {
  keys: Ed25519KeyPair;
  keyid: string;
  policy: VerificationPolicy;
  deps: VerifierDeps;
  /** The signer as an active allowlisted member of tenant acme (overridable). */
  principal(overrides?: Partial<Principal>): Principal;
  /** Signs and returns the request as the server would receive it (lowercased headers). */
  signed(options: Partial<SignRequestOptions> & { method?: string; url?: string }): ReceivedRequest;
}

export function signingFixture(nowMs: number = NOW_MS): SigningFixture {
  const keys = generateEd25519KeyPair();
  const keyid = toBase64url(keys.publicKey);
  return {
    keys,
    keyid,
    policy: conclavePolicy(() => nowMs),
    deps: { keyCache: new PublicKeyCache() },
    principal: (overrides) => ({
      signPub: keyid,
      kexPub: keyid,
      tenant: "acme",
      role: "member",
      scopes: [],
      status: "active",
      ...overrides,
    }),
    signed(options) {
      const method = options.method ?? "POST";
      const url = options.url ?? "/v1/rooms?limit=10";
      const added = signRequest({
        secretKey: keys.secretKey,
        keyid,
        created: Math.floor(nowMs / 1000),
        ...options,
        method,
        url,
      });
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries({ ...options.headers, ...added })) {
        if (typeof value === "string") headers[name.toLowerCase()] = value;
      }
      return { method, url, headers, body: options.body };
    },
  };
}
