/** Every failure the SDK reports: the HTTP status plus the wire code and reason when the server sent them. */
export class ConclaveError extends Error {
  readonly status: number;
  readonly code: string;
  readonly reason: string | undefined;
  /** Seconds the server asked us to wait (429/503), if it said. */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    opts: { reason?: string; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ConclaveError";
    this.status = status;
    this.code = code;
    this.reason = opts.reason;
    this.retryAfter = opts.retryAfter;
  }

  /** Worth trying again later (overload, store unavailable, network), as opposed to a refusal. */
  get transient(): boolean {
    return this.status === 503 || this.status === 0 || this.code === "rate_limited";
  }
}

export async function errorFromResponse(res: Response): Promise<ConclaveError> {
  const text = await res.text().catch(() => "");
  let code = "http_error";
  let message = `${res.status} ${res.statusText}`;
  let reason: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; reason?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
    reason = body.error?.reason;
  } catch {
    // not a wire error body
  }
  const retryAfter = Number(res.headers.get("retry-after"));
  return new ConclaveError(res.status, code, message, {
    ...(reason ? { reason } : {}),
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfter } : {}),
  });
}
