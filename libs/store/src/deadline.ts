import { toStoreError, UnavailableError } from "./errors.ts";

/**
 * Runs a store operation under a hard deadline and maps its failure to the
 * taxonomy. The deadline is ours, not only the client's: a request buffered
 * during a reconnect must not hang a security decision.
 */
export async function withDeadline<T>(what: string, timeoutMs: number, op: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([op(), deadline]);
  } catch (err) {
    throw toStoreError(err, what);
  } finally {
    clearTimeout(timer);
  }
}

/** Full jitter backoff: a random wait in [0, min(cap, base · 2^attempt)). */
export function backoffMs(attempt: number, baseMs = 10, capMs = 250): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

/**
 * Retries an idempotent operation while the store is Unavailable, until
 * `budgetMs` is spent (start-up work such as provisioning while a cluster is
 * still placing peers). Conflicts and other errors are not retried.
 */
export async function retryWhileUnavailable<T>(
  what: string,
  budgetMs: number,
  attemptTimeoutMs: number,
  op: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await withDeadline(what, attemptTimeoutMs, op);
    } catch (err) {
      if (!(err instanceof UnavailableError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, backoffMs(attempt, 100, 1_000)));
    }
  }
}
