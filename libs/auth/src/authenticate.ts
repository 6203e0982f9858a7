import { ApiError, type Role, unavailableError } from "@conclave/protocol";
import { claimNonce, type NonceTable } from "./nonce-guard.ts";
import type { PublicKeyCache } from "./public-key-cache.ts";
import { isSignatureError } from "./signature-error.ts";
import { type ReceivedRequest, type VerificationPolicy, type VerifiedSignature, verifyRequest } from "./verifier.ts";

/** Who signed a request, as the users allowlist knows them. */
export interface Principal {
  signPub: string;
  kexPub: string;
  tenant: string;
  role: Role;
  scopes: string[];
  status: "active" | "revoked";
  name?: string | undefined;
}

export interface AuthenticatorDeps {
  policy: VerificationPolicy;
  keyCache: PublicKeyCache;
  /**
   * The allowlist entry of a signer, read from the stream leader. Store
   * failures must throw (they become 503): never resolve undefined for "unsure".
   */
  lookupUser(signPub: string): Promise<Principal | undefined>;
  nonces: NonceTable;
}

export interface Authenticated {
  principal: Principal;
  signature: VerifiedSignature;
}

const denied = (reason: string, cause?: unknown) =>
  new ApiError("unauthorized", "request authentication failed", { reason, cause });

/**
 * The signed-request pipeline, in the spec's order: parse → clock window →
 * signature → signer is an active user → claim the nonce. The nonce is
 * claimed last so that keys nobody registered (free to make) cannot fill the
 * nonce bucket; and the claim, a quorum write issued after the allowlist read,
 * is that read's witness: a stale allow cannot survive it (docs/store.md).
 */
export async function authenticate(request: ReceivedRequest, deps: AuthenticatorDeps): Promise<Authenticated> {
  let signature: VerifiedSignature;
  try {
    signature = verifyRequest(request, deps.policy, { keyCache: deps.keyCache });
  } catch (err) {
    if (isSignatureError(err)) throw denied(err.reason, err);
    throw err;
  }
  const principal = await storeCall(() => deps.lookupUser(signature.keyid));
  if (!principal) throw denied("unknown_signer");
  if (principal.status !== "active") throw denied("revoked_signer");
  const outcome = await storeCall(() => claimNonce(deps.nonces, signature.keyid, signature.nonce, deps.policy.now()));
  if (outcome === "replay") throw denied("replay");
  return { principal, signature };
}

/** Any store failure during authentication denies with 503: the client may retry, nothing is allowed. */
async function storeCall<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw unavailableError("authentication store unavailable, retry later", err);
  }
}
