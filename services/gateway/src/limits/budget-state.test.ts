import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyBudgetOps,
  type BudgetOp,
  type BudgetState,
  currentState,
  MAX_LIVE_RESERVATIONS,
  reservedTotal,
  SETTLED_MEMORY,
} from "./budget-state.ts";

const DAY = 86_400;
const limits = { input: 100, output: 100 };
const reserve = (id: string, input: number, output = 0, leaseMs = 5_000): BudgetOp => ({
  kind: "reserve",
  id,
  estimate: { input, output },
  limits,
  leaseMs,
});
const settle = (id: string, input: number, output = 0): BudgetOp => ({ kind: "settle", id, actual: { input, output } });

function step(state: BudgetState | undefined, ops: BudgetOp[], now = 1_000_000) {
  const out = applyBudgetOps(state, ops, now, DAY);
  return { state: out.next ?? state, results: out.results, wrote: out.next !== undefined };
}

describe("budget ledger state", () => {
  it("reserves against usage plus live reservations, and refuses with the numbers", () => {
    const one = step(undefined, [reserve("a", 60), reserve("b", 60)]);
    expect(one.results).toEqual([
      { ok: true },
      { ok: false, why: "exceeded", dimension: "input", total: 120, limit: 100 },
    ]);
    const settled = step(one.state, [settle("a", 70)]);
    expect(settled.state?.used).toEqual({ input: 70, output: 0 });
    expect(step(settled.state, [reserve("c", 60)]).results[0]).toMatchObject({ total: 130, limit: 100 });
    expect(step(settled.state, [reserve("d", 0, 101)]).results[0]).toMatchObject({ dimension: "output", total: 101 });
  });

  it("every operation is idempotent by id: retried reserves and settles change nothing", () => {
    const first = step(undefined, [reserve("a", 10)]);
    const again = step(first.state, [reserve("a", 10)]);
    expect(again.results[0]).toEqual({ ok: true });
    expect(again.wrote).toBe(false);
    const settled = step(first.state, [settle("a", 4)]);
    const twice = step(settled.state, [settle("a", 4), reserve("a", 10)]);
    expect(twice.results).toEqual([{ ok: true, recorded: false }, { ok: true }]);
    expect(twice.state?.used.input).toBe(4);
    expect(Object.keys(twice.state?.reservations ?? {})).toEqual([]);
  });

  it(`remembers the last ${SETTLED_MEMORY} settled ids: a retry beyond that is counted again (over, never under)`, () => {
    const settleOf = (id: string): BudgetOp => ({ kind: "settle", id, actual: { input: 1, output: 0 } });
    let state = step(undefined, [settleOf("first")]).state;
    for (let i = 1; i < SETTLED_MEMORY; i++) state = step(state, [settleOf(`s${i}`)]).state;
    // Still within the memory: the retry is recognised.
    expect(step(state, [settleOf("first")]).results[0]).toEqual({ ok: true, recorded: false });
    state = step(state, [settleOf("one-more")]).state;
    expect(state?.settled).toHaveLength(SETTLED_MEMORY);
    expect(state?.settled.includes("first")).toBe(false);
    // Crossed: the oldest id is forgotten, so its retry is charged a second time — the
    // budget over-counts (refuses early); it never under-counts, so it is never overspent.
    const retried = step(state, [settleOf("first")]);
    expect(retried.results[0]).toEqual({ ok: true, recorded: true });
    expect(retried.state?.used.input).toBe(SETTLED_MEMORY + 2);
  });

  it("a lease that ends unsettled is charged at its estimate; a late settle changes nothing", () => {
    const held = step(undefined, [reserve("dead", 60, 4, 1_000)], 1_000_000);
    expect(step(held.state, [reserve("x", 50)], 1_000_500).results[0]).toMatchObject({ ok: false, total: 110 });
    // The lease ended: its call may have run, so its estimate becomes usage — not free room.
    const later = step(held.state, [reserve("x", 40)], 1_001_000);
    expect(later.results[0]).toEqual({ ok: true });
    expect(later.state?.used).toEqual({ input: 60, output: 4 });
    expect(Object.keys(later.state?.reservations ?? {})).toEqual(["x"]);
    expect(step(later.state, [reserve("y", 1)], 1_001_050).results[0]).toMatchObject({ ok: false, total: 101 });
    // Its settle arriving after the charge is recognised: counted once, at the estimate.
    const late = step(later.state, [settle("dead", 5)], 1_001_100);
    expect(late.results[0]).toEqual({ ok: true, recorded: false });
    expect(late.state?.used).toEqual({ input: 60, output: 4 });
    // A read sees the charge without a write: the budget view never shows the lapsed lease as free room.
    expect(currentState(held.state, 1_001_000, DAY).used).toEqual({ input: 60, output: 4 });
  });

  it("a lease that ended in an earlier period is not charged to the new one", () => {
    const now = DAY * 1000 * 10 + 5;
    const held = step(undefined, [reserve("dead", 60, 0, 1_000)], now);
    const next = step(held.state, [reserve("y", 90)], now + DAY * 1000);
    expect(next.results[0]).toEqual({ ok: true });
    expect(next.state?.used).toEqual({ input: 0, output: 0 });
    expect(next.state?.settled).toContain("dead");
  });

  it("a new period starts from zero usage and keeps the calls still in flight", () => {
    const now = DAY * 1000 * 10 + 5;
    const s = step(undefined, [reserve("a", 30), reserve("b", 10, 0, 2 * DAY * 1000)], now);
    const used = step(s.state, [settle("a", 30)], now + 1).state;
    const next = step(used, [reserve("c", 95)], now + DAY * 1000);
    expect(next.state?.used).toEqual({ input: 0, output: 0 });
    expect(next.results[0]).toMatchObject({ ok: false, total: 105 });
    expect(Object.keys(next.state?.reservations ?? {})).toEqual(["b"]);
  });

  it("caps calls in flight per tenant", () => {
    const ops = Array.from({ length: MAX_LIVE_RESERVATIONS + 1 }, (_, i) => ({
      ...reserve(`r${i}`, 0),
      limits: { input: 1, output: 1 },
    })) as BudgetOp[];
    const out = step(undefined, ops);
    expect(out.results.at(-1)).toEqual({ ok: false, why: "too_many_in_flight" });
  });

  it("whatever the interleaving, an admitted reservation always fits usage plus live reservations in the limit", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant("reserve" as const),
              id: fc.integer({ min: 0, max: 20 }),
              n: fc.integer({ min: 0, max: 70 }),
            }),
            fc.record({
              kind: fc.constant("settle" as const),
              id: fc.integer({ min: 0, max: 20 }),
              n: fc.integer({ min: 0, max: 70 }),
            }),
          ),
          { maxLength: 60 },
        ),
        (plan) => {
          let state: BudgetState | undefined;
          for (const op of plan) {
            const o = op.kind === "reserve" ? reserve(`r${op.id}`, op.n) : settle(`r${op.id}`, op.n);
            const out = applyBudgetOps(state, [o], 1_000_000, DAY);
            state = out.next ?? state;
            // Right after an admitted reserve, recorded usage plus everything reserved fits the limit.
            if (op.kind === "reserve" && out.results[0]?.ok && out.next) {
              expect(out.next.used.input + reservedTotal(out.next).input).toBeLessThanOrEqual(limits.input);
            }
          }
        },
      ),
    );
  });
});
