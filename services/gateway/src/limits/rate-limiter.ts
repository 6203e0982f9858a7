import type { Store } from "@conclave/store";
import { CasBatcher } from "./cas-batcher.ts";
import { decideWindow, type WindowDecision, type WindowState, windowState } from "./sliding-window.ts";

export interface RateLimiterDeps {
  store: Store;
  windowMs: number;
  now: () => number;
}

interface Take {
  limit: number;
  now: number;
}

/**
 * Per-tenant request limits shared by every replica: one sliding-window
 * counter per tenant in the ratelimits bucket, advanced by CAS (batched per
 * replica). The bucket's max age (2 min) drops counters idle for two windows.
 * A CAS write whose outcome is unknown may count a request twice: the error
 * is always toward refusing, never toward admitting more than the limit.
 */
export class RateLimiter {
  private readonly batcher: CasBatcher<WindowState, Take, WindowDecision>;
  private readonly deps: RateLimiterDeps;

  constructor(deps: RateLimiterDeps) {
    this.deps = deps;
    const windowMs = deps.windowMs;
    this.batcher = new CasBatcher(deps.store.table("ratelimits", windowState), (current, ops) => {
      let state = current;
      let changed = false;
      const results = ops.map((op) => {
        const decision = decideWindow(state, op.now, op.limit, windowMs);
        if (decision.next) {
          state = decision.next;
          changed = true;
        }
        return decision;
      });
      return { next: changed ? state : undefined, results };
    });
  }

  /** Counts one request of `tenant` against `limit` per window. Store failures throw (the caller answers 503). */
  take(tenant: string, limit: number): Promise<WindowDecision> {
    return this.batcher.submit(`rl.${tenant}`, { limit, now: this.deps.now() });
  }
}

/** The headers every tenant response carries (docs/gateway.md), and Retry-After on a refusal. */
export function rateLimitHeaders(decision: WindowDecision): Record<string, string> {
  return {
    "x-ratelimit-limit": String(decision.limit),
    "x-ratelimit-remaining": String(decision.remaining),
    "x-ratelimit-reset": String(decision.resetS),
    ...(decision.admitted ? {} : { "retry-after": String(decision.retryAfterS) }),
  };
}
