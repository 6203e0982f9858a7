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
