import { describe, expect, it } from "vitest";
import { KickQueue } from "./kick-queue.ts";

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe("kick queue", () => {
  it("runs at most `concurrency` kicks at once; a storm for one bot waiting its turn is one kick", async () => {
    const gate = deferred();
    const started: string[] = [];
    let running = 0;
    let peak = 0;
    const queue = new KickQueue(2, async (who) => {
      started.push(who);
      peak = Math.max(peak, ++running);
      await gate.promise;
      running--;
      return who;
    });
    const jobs = [queue.submit("a"), queue.submit("b"), ...Array.from({ length: 50 }, () => queue.submit("c"))];
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual(["a", "b"]);
    expect(queue.backlog).toBe(1);
    gate.resolve();
    expect(new Set(await Promise.all(jobs))).toEqual(new Set(["a", "b", "c"]));
    expect(started).toEqual(["a", "b", "c"]);
    expect(peak).toBe(2);
    expect(queue.backlog).toBe(0);
  });

  it("a change arriving once its bot's kick has started gets a kick of its own", async () => {
    const gate = deferred();
    let kicks = 0;
    const queue = new KickQueue(1, async () => {
      kicks++;
      await gate.promise;
    });
    const first = queue.submit("a");
    await new Promise((r) => setTimeout(r, 10));
    const second = queue.submit("a");
    gate.resolve();
    await Promise.all([first, second]);
    expect(kicks).toBe(2);
  });
});
