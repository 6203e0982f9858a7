import { AsyncLocalStorage } from "node:async_hooks";
import { UnavailableError } from "./errors.ts";

// The latest moment (epoch ms) by which the decision in progress must be taken.
// Every store operation bounds itself by its own timeout AND by this: a request
// that makes several store calls in sequence (allowlist read, nonce claim,
// plan read, rate limit, witness) is refused at arrival + one operation
// timeout, not after the sum of their timeouts (issue 16 item 5: 3.7–3.9 s
// under quorum loss for a 2 s timeout).
const decision = new AsyncLocalStorage<number>();

/**
 * Runs `work` with every store operation it starts (withDeadline, witness
 * waits) ending at `at` at the latest. Nested calls keep the earlier bound.
 */
export function withinDecisionDeadline<T>(at: number, work: () => Promise<T>): Promise<T> {
  const outer = decision.getStore();
  return decision.run(outer === undefined ? at : Math.min(outer, at), work);
}

/**
 * Runs `work` outside any decision: for work one caller starts that others
 * share and that outlives it (the witness's coalesced write, a batched CAS
 * loop). Started inside, it would be cut at its first caller's deadline and
 * fail everyone who joined it later. Each waiter bounds its own wait with
 * boundedByDecision.
 */
export function outsideDecision<T>(work: () => T): T {
  return decision.exit(work);
}

/** The bound of the decision in progress, or undefined outside one. */
export function decisionDeadline(): number | undefined {
  return decision.getStore();
}

/**
 * Waits for `work` no later than the decision deadline (no bound outside a
 * decision): for waits shared between callers with different deadlines, such
 * as the witness's coalesced write, which runs under its first caller's bound.
 */
export async function boundedByDecision<T>(what: string, work: Promise<T>): Promise<T> {
  const at = decision.getStore();
  if (at === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UnavailableError(`${what}: decision deadline reached`)),
      Math.max(0, at - Date.now()),
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
