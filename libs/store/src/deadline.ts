import type { ConnectionGate } from "./connection-gate.ts";
import { decisionDeadline } from "./decision-deadline.ts";
import { toStoreError, UnavailableError } from "./errors.ts";

export interface DeadlineOptions {
  /**
   * The operation is idempotent (a read, or a write carrying its msg id): a
   * fast failure or an attempt without an answer is tried again, while the
   * deadline lasts. Leadership moves and connection switches lose a reply or
   * answer "unavailable" for a few milliseconds; a retry hides them.
   */
  retry?: boolean;
  /** Holds the operation while the connection switches off a lame-duck server (connection-gate.ts). */
  gate?: ConnectionGate;
}

// A retried operation gives each attempt a third of its deadline (at least
// MIN_ATTEMPT_MS): a lost reply costs one attempt, not the whole deadline.
const ATTEMPTS = 3;
const MIN_ATTEMPT_MS = 150;

/**
 * Runs a store operation under a hard deadline and maps its failure to the
 * taxonomy. The deadline is ours, not only the client's: a request buffered
 * during a reconnect must not hang a security decision. Retries (idempotent
 * operations only) stay inside the same deadline: fail-closed timing is kept.
 * Inside a decision (decision-deadline.ts) the deadline is also never later
 * than the decision's.
 */
export function withDeadline<T>(
  what: string,
  timeoutMs: number,
  op: () => Promise<T>,
  opts: DeadlineOptions = {},
): Promise<T> {
  const gated = opts.gate ? () => (opts.gate as ConnectionGate).pass(op) : op;
  return attempts(what, timeoutMs, gated, opts.retry === true, (err) => toStoreError(err, what));
}

/**
 * An idempotent client call retried inside its deadline like `withDeadline`
 * with `retry`, but whatever the client threw comes through unchanged: for
 * libraries that inspect the errors of the calls they make (retrying-jetstream.ts).
 */
export function retryIdempotent<T>(what: string, timeoutMs: number, op: () => Promise<T>): Promise<T> {
  return attempts(what, timeoutMs, op, true, (err) => err);
}

async function attempts<T>(
  what: string,
  timeoutMs: number,
  op: () => Promise<T>,
  retry: boolean,
  finalError: (err: unknown) => unknown,
): Promise<T> {
  const deadline = Math.min(Date.now() + timeoutMs, decisionDeadline() ?? Number.POSITIVE_INFINITY);
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - Date.now();
    // A decision whose time is spent is refused without sending anything more.
    if (remaining <= 0) throw finalError(new UnavailableError(`${what}: decision deadline reached`));
    const attemptMs = retry ? Math.min(remaining, Math.max(MIN_ATTEMPT_MS, timeoutMs / ATTEMPTS)) : remaining;
    try {
      return await raceTimer(op, Math.max(1, attemptMs), () => `${what}: no answer within ${timeoutMs} ms`);
    } catch (err) {
      const left = deadline - Date.now();
      if (!retry || !(toStoreError(err, what) instanceof UnavailableError) || left < MIN_ATTEMPT_MS) {
        throw finalError(err);
      }
      await sleep(Math.min(backoffMs(attempt, 20, 200), left - MIN_ATTEMPT_MS));
    }
  }
}

async function raceTimer<T>(op: () => Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(message())), ms);
  });
  try {
    return await Promise.race([op(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

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
