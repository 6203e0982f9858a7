import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CoalescedRefresh } from "./coalesced-refresh.ts";

describe("coalesced refresh", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_800_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const slowRun = (ms: number) => {
    const calls: number[] = [];
    const run = async () => {
      calls.push(Date.now());
      await new Promise((r) => setTimeout(r, ms));
    };
    return { calls, run };
  };

  it("a burst of 10,000 requests costs one refresh, and every request waits for it", async () => {
    const { calls, run } = slowRun(50);
    const refresh = new CoalescedRefresh(run, 1_000);
    let done = 0;
    const all = Array.from({ length: 10_000 }, () => refresh.request().then(() => done++));
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(calls).toHaveLength(1);
    expect(done).toBe(10_000);
  });

  it("a flood lasting 10 s gets at most one refresh per interval (11), spaced by the interval", async () => {
    const { calls, run } = slowRun(20);
    const refresh = new CoalescedRefresh(run, 1_000);
    const pending: Promise<void>[] = [];
    for (let t = 0; t < 10_000; t += 5) {
      pending.push(refresh.request());
      await vi.advanceTimersByTimeAsync(5);
    }
    await vi.runAllTimersAsync();
    await Promise.all(pending);
    expect(calls.length).toBeGreaterThan(1); // the flood is served, not starved
    expect(calls.length).toBeLessThanOrEqual(11);
    const gaps = calls.slice(1).map((t, i) => t - (calls[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1_000);
  });

  it("never runs two refreshes at once, even when one outlasts the interval", async () => {
    let running = 0;
    let most = 0;
    const refresh = new CoalescedRefresh(async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 3_000));
      running--;
    }, 100);
    const all = [refresh.request()];
    await vi.advanceTimersByTimeAsync(500);
    all.push(refresh.request(), refresh.request());
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(refresh.runs).toBe(2);
    expect(most).toBe(1);
  });

  it("a failed refresh rejects its waiters and the next request runs again", async () => {
    let fail = true;
    const refresh = new CoalescedRefresh(async () => {
      if (fail) throw new Error("membership unavailable");
    }, 1_000);
    const first = refresh.request();
    const failed = expect(first).rejects.toThrow("membership unavailable");
    await vi.runAllTimersAsync();
    await failed;
    fail = false;
    const second = refresh.request();
    await vi.runAllTimersAsync();
    await expect(second).resolves.toBeUndefined();
    expect(refresh.runs).toBe(2);
  });
});
