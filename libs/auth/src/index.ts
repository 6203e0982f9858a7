export {
  type Authenticated,
  type AuthenticatorDeps,
  authenticate,
  type Principal,
  readInTenant,
  type Settled,
  type SignerReads,
} from "./authenticate.ts";
export { fromBase64url, toBase64url } from "./base64url.ts";
export { componentId } from "./component-id.ts";
export {
  type ContentDigestHasher,
  contentDigest,
  createContentDigestHasher,
  type DigestSubject,
  formatContentDigest,
  sha256,
  verifyContentDigest,
} from "./content-digest.ts";
export { DERIVED_COMPONENTS } from "./derived-components.ts";
export {
  decodeKeyId,
  type Ed25519KeyPair,
  generateEd25519KeyPair,
  PUBLIC_KEY_BYTES,
  privateKeyObject,
  publicKeyObject,
  rawPublicKey,
  SECRET_KEY_BYTES,
  tweetnaclSecretKey,
} from "./ed25519-keys.ts";
export { generateIdentity, type KeyFile, keyFileSchema, readKeyFile, writeKeyFile } from "./key-file.ts";
export { publicKeyOfUserNkey, signPubOfUserNkey, userNkeyOf, userNkeyOfSignPub } from "./nkey-codec.ts";
export { claimNonce, type NonceClaim, type NonceOutcome, type NonceTable, nonceKey } from "./nonce-guard.ts";
export { DEFAULT_KEY_CACHE_CAPACITY, PublicKeyCache } from "./public-key-cache.ts";
export {
  buildSignatureBase,
  type HeaderMap,
  type HeaderValue,
  type SignableRequest,
  type SignatureParams,
  serializeSignatureParams,
} from "./signature-base.ts";
export {
  isSignatureError,
  SIGNATURE_ERROR_REASONS,
  SignatureError,
  type SignatureErrorReason,
} from "./signature-error.ts";
export {
  MAX_COVERED_COMPONENTS,
  MAX_SIGNATURE_HEADER_LENGTH,
  MAX_SIGNATURE_LABELS,
  type ParsedSignatures,
  parseSignature,
  parseSignatureHeaders,
  parseSignatureInput,
  type SignatureInput,
} from "./signature-input.ts";
export {
  BASE_COMPONENTS,
  DEFAULT_LABEL,
  defaultComponents,
  type SignatureHeaders,
  type SignRequestOptions,
  signRequest,
} from "./signer.ts";
export {
  conclavePolicy,
  type ReceivedRequest,
  type VerificationPolicy,
  type VerifiedSignature,
  type VerifierDeps,
  verifyRequest,
} from "./verifier.ts";
