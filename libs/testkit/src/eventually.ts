import { setTimeout as sleep } from "node:timers/promises";

/**
 * Retries `op` until it succeeds or `timeoutMs` passes, then throws its last
 * error. For test steps that run while a cluster recovers (elections, client
 * reconnects) — never for the assertions about failure behaviour themselves.
 */
export async function eventually<T>(op: () => Promise<T>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(intervalMs);
    }
  }
}
