import { z } from "zod";

/**
 * Sliding-window counter (the approximation Cloudflare and others use): the
 * count of the current fixed window plus the previous window's count weighted
 * by how much of it still overlaps the sliding window ending now. Two numbers
 * per tenant, no per-request log, and no burst of 2× the limit at a window
 * boundary as a fixed window allows. Pure: the rate limiter stores the state.
 */
export const windowState = z
  .object({
    /** Start of the current fixed window, ms since the epoch (a multiple of the window length). */
    start: z.number().int().nonnegative(),
    current: z.number().int().nonnegative(),
    previous: z.number().int().nonnegative(),
  })
  .strict();

export type WindowState = z.infer<typeof windowState>;

export interface WindowDecision {
  admitted: boolean;
  /** State to store; undefined when nothing changed (a refusal). */
  next: WindowState | undefined;
  limit: number;
  /** Requests still admissible now (after this one, if admitted). */
  remaining: number;
  /** Seconds until the current fixed window ends and its count starts to fade. */
  resetS: number;
  /** Refusals only: seconds until one more request would be admitted. */
  retryAfterS: number;
}

/** The state as of `now`: windows rolled forward, counts that no longer overlap dropped. */
export function rollWindow(state: WindowState | undefined, now: number, windowMs: number): WindowState {
  const start = Math.floor(now / windowMs) * windowMs;
  if (!state || state.start < start - windowMs) return { start, current: 0, previous: 0 };
  if (state.start === start - windowMs) return { start, current: 0, previous: state.current };
  // A state from "the future" (clock skew between replicas) is kept as is: never reset by a slow clock.
  return state.start > start ? state : { ...state };
}

export function estimate(state: WindowState, now: number, windowMs: number): number {
  const elapsed = Math.min(Math.max(now - state.start, 0), windowMs);
  return (state.previous * (windowMs - elapsed)) / windowMs + state.current;
}

export function decideWindow(
  stored: WindowState | undefined,
  now: number,
  limit: number,
  windowMs: number,
): WindowDecision {
  const state = rollWindow(stored, now, windowMs);
  const elapsed = Math.min(Math.max(now - state.start, 0), windowMs);
  const resetS = Math.max(1, Math.ceil((windowMs - elapsed) / 1000));
  const used = estimate(state, now, windowMs);
  if (used + 1 <= limit) {
    const next = { ...state, current: state.current + 1 };
    const remaining = Math.max(0, Math.floor(limit - estimate(next, now, windowMs)));
    return { admitted: true, next, limit, remaining, resetS, retryAfterS: 0 };
  }
  return {
    admitted: false,
    next: undefined,
    limit,
    remaining: 0,
    resetS,
    retryAfterS: retryAfterS(state, elapsed, limit, windowMs),
  };
}

/** Smallest wait after which `estimate + 1 <= limit`, rounded up to whole seconds (at least 1). */
function retryAfterS(state: WindowState, elapsed: number, limit: number, windowMs: number): number {
  const room = limit - 1 - state.current;
  let waitMs: number;
  if (room >= 0 && state.previous > 0) {
    // Still in this window: the previous window's weight must fade to `room`.
    waitMs = windowMs - elapsed - (windowMs * room) / state.previous;
  } else {
    // Only the next window helps: this window's count becomes the fading one.
    const fadeTo = limit - 1;
    const intoNext = state.current > 0 ? windowMs * (1 - fadeTo / state.current) : 0;
    waitMs = windowMs - elapsed + Math.max(0, intoNext);
  }
  return Math.max(1, Math.ceil(waitMs / 1000));
}
