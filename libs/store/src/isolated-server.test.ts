import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { IsolationWatch, peersIn } from "./isolated-server.ts";

const POLICY = { graceMs: 1_000, minBackoffMs: 2_000, maxBackoffMs: 8_000 };

describe("isolation watch", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const watchWith = (onMove: () => void = () => {}) => {
    const moves: number[] = [];
    const watch = new IsolationWatch(
      async () => {
        moves.push(Date.now());
        onMove();
      },
      POLICY,
      Date.now,
    );
    return { watch, moves };
  };

  it("counts the peers an INFO lists besides the server itself", () => {
    expect(peersIn({ connect_urls: ["a:1", "b:1", "c:1"] })).toBe(2);
    expect(peersIn({ connect_urls: ["a:1"] })).toBe(0);
    expect(peersIn({})).toBe(0);
    expect(peersIn(undefined)).toBe(0);
  });

  it("leaves a server that lost every peer once the grace has passed, not before", async () => {
    const { watch, moves } = watchWith();
    watch.observe(2);
    watch.observe(0);
    await vi.advanceTimersByTimeAsync(999);
    expect(moves).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(moves).toHaveLength(1);
  });

  it("stays when the routes come back within the grace", async () => {
    const { watch, moves } = watchWith();
    watch.observe(2);
    watch.observe(0);
    await vi.advanceTimersByTimeAsync(500);
    watch.observe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(moves).toHaveLength(0);
  });

  it("never moves a connection that has not seen a cluster (single node, or no_advertise)", async () => {
    const { watch, moves } = watchWith();
    watch.observe(0);
    watch.observe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(moves).toHaveLength(0);
  });

  it("backs off while every server it lands on is isolated (quorum lost), and resets once one has peers", async () => {
    const { watch, moves } = watchWith(() => watch.observe(0));
    const start = Date.now();
    watch.observe(2);
    watch.observe(0);
    await vi.advanceTimersByTimeAsync(30_000);
    // Moves at 1 s, then 2, 4, 8, 8 … s apart (capped).
    expect(moves.map((t) => t - start)).toEqual([1_000, 3_000, 7_000, 15_000, 23_000]);
    watch.observe(2);
    watch.observe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(moves.at(-1)).toBe(start + 31_000);
    watch.stop();
  });

  it("a failed move is spaced by the same backoff", async () => {
    const { watch, moves } = watchWith(() => {
      throw new Error("still on the same server");
    });
    const start = Date.now();
    watch.observe(1);
    watch.observe(0);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(moves.map((t) => t - start)).toEqual([1_000, 3_000, 7_000]);
    expect(watch.attempts).toBe(3);
    watch.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(moves).toHaveLength(3);
  });
});
