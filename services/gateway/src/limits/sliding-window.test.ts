import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideWindow, type WindowState } from "./sliding-window.ts";

const W = 60_000;

/** Runs requests at the given times through the pure limiter, as the KV value would evolve. */
function run(times: number[], limit: number) {
  let state: WindowState | undefined;
  return times.map((t) => {
    const d = decideWindow(state, t, limit, W);
    if (d.next) state = d.next;
    return { t, ...d };
  });
}

describe("sliding-window counter", () => {
  it("admits the limit in a fresh window with remaining counting down, then refuses", () => {
    const out = run(
      Array.from({ length: 21 }, (_, i) => 10 * W + 1_000 + i),
      20,
    );
    expect(out.slice(0, 20).every((d) => d.admitted)).toBe(true);
    expect(out.slice(0, 20).map((d) => d.remaining)).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
    expect(out[20]).toMatchObject({ admitted: false, remaining: 0, next: undefined });
    expect(out[20]?.resetS).toBe(59);
  });

  it("weighs the previous window by its overlap: no 2× burst at a window boundary", () => {
    const base = 10 * W;
    const full = run(
      Array.from({ length: 20 }, (_, i) => base + W - 100 + i),
      20,
    );
    expect(full.every((d) => d.admitted)).toBe(true);
    // Just past the boundary, the previous 20 still weigh ~20: a fixed window would admit 20 more here.
    let state = full.at(-1)?.next;
    const justAfter = decideWindow(state, base + W + 10, 20, W);
    expect(justAfter.admitted).toBe(false);
    // Half-way through the next window they weigh 10: ten more fit.
    const admitted: boolean[] = [];
    for (let i = 0; i < 11; i++) {
      const d = decideWindow(state, base + W + W / 2 + i, 20, W);
      admitted.push(d.admitted);
      if (d.next) state = d.next;
    }
    expect(admitted.filter(Boolean)).toHaveLength(10);
  });

  it("Retry-After is exact: a request that waits it out is admitted, one a second earlier is not", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 3 * W }), { minLength: 1, maxLength: 200 }),
        (limit, offsets) => {
          const times = offsets.sort((x, y) => x - y).map((o) => 100 * W + o);
          let state: WindowState | undefined;
          for (const t of times) {
            const d = decideWindow(state, t, limit, W);
            if (d.next) {
              state = d.next;
              continue;
            }
            const later = decideWindow(state, t + d.retryAfterS * 1000, limit, W);
            expect(later.admitted).toBe(true);
            if (d.retryAfterS > 1)
              expect(decideWindow(state, t + (d.retryAfterS - 1) * 1000 - 1, limit, W).admitted).toBe(false);
          }
        },
      ),
    );
  });

  it("never admits more than the limit within one fixed window, however requests arrive", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.integer({ min: 0, max: 5 * W }), { maxLength: 300 }),
        (limit, offsets) => {
          const out = run(
            offsets.sort((x, y) => x - y).map((o) => 7 * W + o),
            limit,
          );
          const perWindow = new Map<number, number>();
          for (const d of out) {
            if (!d.admitted) continue;
            const w = Math.floor(d.t / W);
            perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
          }
          for (const n of perWindow.values()) expect(n).toBeLessThanOrEqual(limit);
          // A refusal changes nothing; an admission always leaves state to write.
          for (const d of out) expect(d.admitted).toBe(d.next !== undefined);
        },
      ),
    );
  });

  it("a state written by a replica whose clock runs ahead is not reset by a slower one", () => {
    const ahead = decideWindow(undefined, 10 * W + 5, 5, W).next;
    const slow = decideWindow(ahead, 10 * W - 1, 5, W);
    expect(slow.next?.current).toBe(2);
  });
});
