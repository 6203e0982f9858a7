// The wire's error codes and the one table that maps them to HTTP statuses.
// Every error a client sees is `{"error": {"code", "message"}}` with one of these codes.

export const WIRE_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  /** RPC: no such method in the catalogue, or no handler serves it now. */
  method_not_found: 404,
  payload_too_large: 413,
  /** A Range request outside the resource (blob downloads). */
  range_not_satisfiable: 416,
  budget_exceeded: 429,
  rate_limited: 429,
  overloaded: 503,
  unavailable: 503,
  internal_error: 500,
  /** RPC: the upstream handler failed or answered something unreadable (details stay in logs). */
  bad_gateway: 502,
  /** RPC: the upstream handler did not answer before the method's timeout. */
  upstream_timeout: 504,
} as const satisfies Record<string, number>;

export type WireCode = keyof typeof WIRE_STATUS;

export interface WireErrorBody {
  error: { code: WireCode; message: string; reason?: string };
}

/**
 * An error meant for the client: its message is safe to show. Anything else
 * thrown in a handler becomes a generic internal_error (details only in logs).
 */
export class ApiError extends Error {
  readonly code: WireCode;
  /** A stable sub-reason (e.g. signature check that failed), safe to show. */
  readonly reason: string | undefined;
  /** Extra response headers, e.g. Retry-After on 503/429. */
  readonly headers: Record<string, string>;

  constructor(
    code: WireCode,
    message: string,
    opts: { reason?: string; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ApiError";
    this.code = code;
    this.reason = opts.reason;
    this.headers = opts.headers ?? {};
  }

  get status(): number {
    return WIRE_STATUS[this.code];
  }

  toBody(): WireErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.reason ? { reason: this.reason } : {}) } };
  }
}

/** How long a client waits before retrying an answer that decided nothing (503 unavailable, overloaded). */
export const RETRY_AFTER_S = 1;

/** The Retry-After header of those answers. */
export const retryAfterHeader = (): Record<string, string> => ({ "retry-after": String(RETRY_AFTER_S) });

/**
 * THE unavailable answer: something this decision depends on (the store, an upstream) could not answer, so
 * nothing was decided (fail closed) and the client may retry after RETRY_AFTER_S.
 */
export function unavailableError(message: string, cause?: unknown): ApiError {
  return new ApiError("unavailable", message, { headers: retryAfterHeader(), cause });
}

/** Shed for load (limits, contention): nothing was decided, retry after RETRY_AFTER_S. */
export function overloadedError(message: string, opts: { reason?: string; cause?: unknown } = {}): ApiError {
  return new ApiError("overloaded", message, { ...opts, headers: retryAfterHeader() });
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
