// The latest a refusal is answered, which docs/gateway.md states and
// test/gateway/denial-bound.test.ts holds the gateway to.

/**
 * Work around the store calls of one request (parsing, signature checks,
 * serialising the answer) on a loaded 2-core machine: the answer's own cost,
 * not a store wait.
 */
export const DENIAL_SLACK_MS = 250;

/**
 * A refusal is answered at most this long after its request arrived: the
 * store's operation timeout (CONCLAVE_OP_TIMEOUT_MS, which bounds the store
 * calls that decided it) plus the slack. Its audit append does not extend it.
 */
export function denialBoundMs(opTimeoutMs: number): number {
  return opTimeoutMs + DENIAL_SLACK_MS;
}

/**
 * Waits for `work` at most `ms` (0 or less: not at all). Whether it ended in
 * time is the answer; `work` itself goes on and must handle its own failure.
 */
export async function waitAtMost(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([work.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
