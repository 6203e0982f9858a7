// One error taxonomy for everything above NATS. Services branch on the class:
// NotFound → 404, Conflict → 409 (or retry), Unavailable → 503 and DENY.

export type StoreErrorKind = "not_found" | "conflict" | "unavailable";

export abstract class StoreError extends Error {
  abstract readonly kind: StoreErrorKind;
}

export class NotFoundError extends StoreError {
  readonly kind = "not_found";
  override readonly name = "NotFoundError";
}

/** A CAS or optimistic-concurrency check lost: someone else wrote first. */
export class ConflictError extends StoreError {
  readonly kind = "conflict";
  override readonly name = "ConflictError";
}

/**
 * The store could not answer: timeout, no responders, no quorum, disconnected.
 * For a write this means UNKNOWN outcome, not "did not happen": NATS applies
 * some writes after the client timed out (see docs/store.md).
 */
export class UnavailableError extends StoreError {
  readonly kind = "unavailable";
  override readonly name = "UnavailableError";
}

// JetStream err_codes. A lost CAS race answers 10071 or, mostly on R3
// streams, 10164 — both are Conflict.
const CONFLICT_CODES = new Set([10071, 10164]);
// Client error classes that all mean "nobody answered in time".
const UNAVAILABLE_NAMES = new Set([
  "TimeoutError",
  "NoRespondersError",
  "RequestError",
  "ConnectionError",
  "ClosedConnectionError",
  "DrainingConnectionError",
  "JetStreamNotEnabled",
  "JetStreamStatusError",
  "AbortError",
]);

interface ApiErrorLike {
  name: string;
  message: string;
  code?: unknown;
  status?: unknown;
}

/**
 * Maps any error thrown by the NATS clients to the taxonomy. Errors we do not
 * recognise become Unavailable too (keeping the cause for the log): a decision
 * that cannot be made safely is denied, never allowed.
 */
export function toStoreError(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = (err ?? {}) as ApiErrorLike;
  if (e.name === "JetStreamApiError" || e.name === "StreamNotFoundError" || e.name === "ConsumerNotFoundError") {
    // A missing stream during quorum loss is transient; only our accessors say NotFound (for keys).
    if (CONFLICT_CODES.has(Number(e.code))) return new ConflictError(`${what}: conflict`, { cause: err });
    return new UnavailableError(`${what}: store unavailable (${String(e.code)})`, { cause: err });
  }
  if (UNAVAILABLE_NAMES.has(e.name)) return new UnavailableError(`${what}: store unavailable`, { cause: err });
  return new UnavailableError(`${what}: unexpected store error`, { cause: err });
}
