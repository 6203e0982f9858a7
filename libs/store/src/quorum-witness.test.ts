import { describe, expect, it } from "vitest";
import type { KvTable } from "./kv-table.ts";
import { QuorumWitness } from "./quorum-witness.ts";

// The witness's coalescing, against a table whose writes we control: each
// write's start time, and when (or whether) it commits.

interface Write {
  startedAt: number;
  commit: () => void;
  fail: (err: Error) => void;
}

function controlledTable() {
  const writes: Write[] = [];
  const table = {
    put: () =>
      new Promise<number>((resolve, reject) => {
        writes.push({ startedAt: Date.now(), commit: () => resolve(writes.length), fail: reject });
      }),
  } as unknown as KvTable<{ at: number }>;
  return { table, writes };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("quorum witness", () => {
  it("a write already in flight when confirm() is called never confirms it", async () => {
    const { table, writes } = controlledTable();
    const witness = new QuorumWitness(table, "t", 1_000);
    const first = witness.confirm();
    await sleep(5);
    const calledAt = Date.now();
    let confirmed = false;
    const second = witness.confirm().then(() => {
      confirmed = true;
    });
    writes[0]?.commit();
    await first;
    await sleep(5);
    expect(confirmed).toBe(false);
    expect(writes).toHaveLength(2);
    expect(writes[1]?.startedAt).toBeGreaterThanOrEqual(calledAt);
    writes[1]?.commit();
    await second;
    expect(confirmed).toBe(true);
  });

  it("coalesces concurrent callers into one later write", async () => {
    const { table, writes } = controlledTable();
    const witness = new QuorumWitness(table, "t", 1_000);
    const first = witness.confirm();
    const waiting = Array.from({ length: 20 }, () => witness.confirm());
    writes[0]?.commit();
    await first;
    await sleep(1);
    expect(writes).toHaveLength(2);
    writes[1]?.commit();
    await Promise.all(waiting);
    expect(writes).toHaveLength(2);
  });

  it("does not hold later callers behind a write that hangs: the next one starts after the patience", async () => {
    const { table, writes } = controlledTable();
    const witness = new QuorumWitness(table, "t", 50);
    const stuck = witness.confirm();
    stuck.catch(() => {});
    await sleep(10);
    const calledAt = Date.now();
    const later = witness.confirm();
    await sleep(60);
    // The stuck write is still in flight; a fresh one started beside it.
    expect(writes).toHaveLength(2);
    expect((writes[1]?.startedAt ?? 0) - calledAt).toBeLessThan(60);
    writes[1]?.commit();
    await later;
    writes[0]?.fail(new Error("no answer within the deadline"));
    await expect(stuck).rejects.toThrow("deadline");
  });

  it("a failed write fails its callers (the decision is denied)", async () => {
    const { table, writes } = controlledTable();
    const witness = new QuorumWitness(table, "t", 1_000);
    const call = witness.confirm();
    writes[0]?.fail(new Error("unavailable"));
    await expect(call).rejects.toThrow("unavailable");
  });
});
