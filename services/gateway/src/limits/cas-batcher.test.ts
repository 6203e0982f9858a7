import type { KvTable } from "@conclave/store";
import { withDeadline, withinDecisionDeadline } from "@conclave/store";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CasBatcher } from "./cas-batcher.ts";

// The batch loop one submitter starts serves every later one: it must not
// run under the first submitter's decision deadline (libs/store
// decision-deadline.ts), or every batch after that deadline fails.
describe("CasBatcher under decision deadlines", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("later batches of a loop started inside a short decision still commit; that caller alone is refused", async () => {
    let value = 0;
    // Each CAS round trip takes 50 ms and honours the decision deadline it runs under, as KvTable's do.
    const table = {
      mutate: (_key: string, fn: (current: number | undefined) => number | undefined) =>
        withDeadline("cas", 2_000, async () => {
          await new Promise((r) => setTimeout(r, 50));
          value = fn(value) ?? value;
        }),
    } as unknown as KvTable<number>;
    const batcher = new CasBatcher<number, number, number>(table, (current, ops) => {
      const next = (current ?? 0) + ops.length;
      return { next, results: ops.map(() => next) };
    });
    const outcomes: string[] = [];
    const track = (name: string, p: Promise<unknown>) =>
      p.then(
        () => outcomes.push(`${name} ok`),
        () => outcomes.push(`${name} refused`),
      );
    const first = track(
      "first",
      withinDecisionDeadline(Date.now() + 20, () => batcher.submit("k", 1)),
    );
    const later: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      later.push(track(`later${i}`, batcher.submit("k", 1)));
      await vi.advanceTimersByTimeAsync(40);
    }
    await vi.advanceTimersByTimeAsync(500);
    await Promise.all([first, ...later]);
    expect(outcomes.filter((o) => o.startsWith("later"))).toEqual(Array.from({ length: 6 }, (_, i) => `later${i} ok`));
    expect(outcomes).toContain("first refused");
    expect(value).toBe(7);
  });
});
