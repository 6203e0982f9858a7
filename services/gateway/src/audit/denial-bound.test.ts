import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DENIAL_SLACK_MS, denialBoundMs, waitAtMost } from "./denial-bound.ts";

describe("a refusal waits for its audit append only while its deadline lasts", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("an append that ends in time is waited for", async () => {
    const append = new Promise<void>((r) => setTimeout(r, 100));
    const waited = waitAtMost(append, 500);
    await vi.advanceTimersByTimeAsync(100);
    await expect(waited).resolves.toBe(true);
  });

  it("an append still running at the deadline (quorum loss) no longer holds the answer", async () => {
    let landed = false;
    const append = new Promise<void>((r) => setTimeout(r, 2_000)).then(() => {
      landed = true;
    });
    const waited = waitAtMost(append, 300);
    await vi.advanceTimersByTimeAsync(300);
    await expect(waited).resolves.toBe(false);
    // The append goes on in the background under its own deadline.
    await vi.advanceTimersByTimeAsync(1_700);
    expect(landed).toBe(true);
  });

  it("a deadline already spent by the stages before does not wait at all", async () => {
    const waited = waitAtMost(new Promise<void>(() => {}), -40);
    await vi.advanceTimersByTimeAsync(0);
    await expect(waited).resolves.toBe(false);
  });

  it("the stated bound is the operation timeout plus the slack", () => {
    expect(denialBoundMs(2_000)).toBe(2_000 + DENIAL_SLACK_MS);
  });
});
