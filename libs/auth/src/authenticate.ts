import { ApiError, type Role, type UserRecord, unavailableError } from "@conclave/protocol";
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
  /** The allowlist entry it was read from, for routes that answer with it (a user reading itself). */
  record?: UserRecord | undefined;
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

/** What a route's reads may start from: the signer's key at once, its allowlist entry when read. */
export interface SignerReads {
  keyid: string;
  /** The tenant the allowlist named for this signer last time (PublicKeyCache.tenantOf): a hint, never trusted. */
  tenantHint: string | undefined;
  /** The allowlist read in flight (undefined: unknown signer, or the read failed: the request is denied then). */
  principal: Promise<Principal | undefined>;
}

/** How a route's reads ended: a failure is the route's to answer (rethrown there), not authentication's. */
export type Settled<T> = { value: T } | { error: unknown };

export interface Authenticated<R = never> {
  principal: Principal;
  signature: VerifiedSignature;
  /** The route's reads, settled before the nonce claim that witnesses them. */
  reads?: Settled<R>;
}

const denied = (reason: string, cause?: unknown) =>
  new ApiError("unauthorized", "request authentication failed", { reason, cause });

/**
 * The signed-request pipeline, in the spec's order: parse → clock window →
 * signature → signer is an active user → claim the nonce. The nonce is
 * claimed last so that keys nobody registered (free to make) cannot fill the
 * nonce bucket; and the claim, a quorum write issued after the allowlist read,
 * is that read's witness: a stale allow cannot survive it (docs/store.md).
 *
 * `reads`, the route's own reads, go out together with the allowlist read
 * (those that need the principal await it) and must have returned before the
 * claim is sent: the claim witnesses them too, so the route needs no witness
 * write of its own, and a signed read costs two sequential round trips when
 * its reads need only the key or the principal (docs/store.md).
 */
export async function authenticate<R = never>(
  request: ReceivedRequest,
  deps: AuthenticatorDeps,
  reads?: (signer: SignerReads) => Promise<R>,
): Promise<Authenticated<R>> {
  let signature: VerifiedSignature;
  try {
    signature = verifyRequest(request, deps.policy, { keyCache: deps.keyCache });
  } catch (err) {
    if (isSignatureError(err)) throw denied(err.reason, err);
    throw err;
  }
  const lookup = storeCall(() => deps.lookupUser(signature.keyid));
  const signer = {
    keyid: signature.keyid,
    tenantHint: deps.keyCache.tenantOf(signature.keyid),
    principal: lookup.catch(() => undefined),
  };
  const routeReads = reads && settle((async () => reads(signer))());
  const principal = await lookup;
  if (!principal) throw denied("unknown_signer");
  if (principal.status !== "active") throw denied("revoked_signer");
  deps.keyCache.noteTenant(signature.keyid, principal.tenant);
  const settled = await routeReads;
  const outcome = await storeCall(() => claimNonce(deps.nonces, signature.keyid, signature.nonce, deps.policy.now()));
  if (outcome === "replay") throw denied("replay");
  return settled ? { principal, signature, reads: settled } : { principal, signature };
}

/**
 * A read scoped to the signer's tenant, sent as early as it can be: at once
 * under the tenant hint, alongside the allowlist read; sent again under the
 * allowlist's tenant if that names another (a guess is never used unchecked).
 * Undefined for a signer the allowlist does not know.
 */
export async function readInTenant<T>(
  signer: SignerReads,
  read: (caller: { signPub: string; tenant: string }) => Promise<T>,
): Promise<T | undefined> {
  const guess =
    signer.tenantHint === undefined ? undefined : read({ signPub: signer.keyid, tenant: signer.tenantHint });
  guess?.catch(() => {}); // unused when the signer is unknown or moved: no unhandled rejection
  const principal = await signer.principal;
  if (!principal) return undefined;
  return guess && principal.tenant === signer.tenantHint ? guess : read(principal);
}

/** Never rejects, so a request denied before its reads are awaited leaves no unhandled rejection. */
function settle<T>(work: Promise<T>): Promise<Settled<T>> {
  return work.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** Any store failure during authentication denies with 503: the client may retry, nothing is allowed. */
async function storeCall<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw unavailableError("authentication store unavailable, retry later", err);
  }
}
