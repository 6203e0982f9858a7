/**
 * Why a signed request was refused. The codes are stable: the HTTP edge maps
 * them to 401 bodies and metrics labels, so rename nothing, only add.
 */
export const SIGNATURE_ERROR_REASONS = [
  "missing_signature",
  "malformed_signature_input",
  "malformed_signature",
  "missing_component",
  "unsupported_component",
  "invalid_component_value",
  "bad_created",
  "expired",
  "bad_nonce",
  "nonce_too_long",
  "bad_keyid",
  "bad_alg",
  "bad_signature",
  "missing_digest",
  "malformed_digest",
  "digest_mismatch",
] as const;

export type SignatureErrorReason = (typeof SIGNATURE_ERROR_REASONS)[number];

/**
 * The one error this package throws for anything a client sent. The message is
 * for logs only; callers branch on `reason` and never echo `message` to clients.
 */
export class SignatureError extends Error {
  readonly reason: SignatureErrorReason;

  constructor(reason: SignatureErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SignatureError";
    this.reason = reason;
  }
}

export function isSignatureError(error: unknown): error is SignatureError {
  return error instanceof SignatureError;
}
