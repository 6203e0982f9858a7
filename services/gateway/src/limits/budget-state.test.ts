import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addUnits,
  applyBudgetOps,
  type BudgetOp,
  type BudgetState,
  budgetState,
  capToReservation,
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
    const settled = step(one.state, [settle("a", 50)]);
    expect(settled.state?.used).toEqual({ input: 50, output: 0 });
    expect(step(settled.state, [reserve("c", 60)]).results[0]).toMatchObject({ total: 110, limit: 100 });
    expect(step(settled.state, [reserve("d", 0, 101)]).results[0]).toMatchObject({ dimension: "output", total: 101 });
  });

  it("every operation is idempotent by id: retried reserves and settles change nothing", () => {
    const first = step(undefined, [reserve("a", 10)]);
    const again = step(first.state, [reserve("a", 10)]);
    expect(again.results[0]).toEqual({ ok: true });
    expect(again.wrote).toBe(false);
    const settled = step(first.state, [settle("a", 4)]);
    const twice = step(settled.state, [settle("a", 4), reserve("a", 10)]);
    expect(twice.results).toEqual([
      { ok: true, recorded: false, charged: { input: 0, output: 0 }, overage: { input: 0, output: 0 } },
      { ok: true },
    ]);
    expect(twice.state?.used.input).toBe(4);
    expect(Object.keys(twice.state?.reservations ?? {})).toEqual([]);
  });

  it(`remembers the last ${SETTLED_MEMORY} settled ids; a settle with no live reservation charges nothing`, () => {
    let state = step(undefined, [reserve("first", 1), settle("first", 1)]).state;
    for (let i = 1; i < SETTLED_MEMORY; i++) state = step(state, [reserve(`s${i}`, 0), settle(`s${i}`, 0)]).state;
    expect(state?.settled).toHaveLength(SETTLED_MEMORY);
    // Within the memory a retried reserve is recognised (not reserved again).
    expect(step(state, [reserve("first", 1)]).wrote).toBe(false);
    state = step(state, [reserve("one-more", 0), settle("one-more", 0)]).state;
    expect(state?.settled.includes("first")).toBe(false);
    // Forgotten, its retried settle finds no reservation: it was charged once already, so nothing is charged.
    const retried = step(state, [settle("first", 1)]);
    expect(retried.results[0]).toMatchObject({ ok: true, recorded: false });
    expect(retried.wrote).toBe(false);
    expect(retried.state?.used).toEqual({ input: 1, output: 0 });
  });

  it("a handler's report is charged at most the reservation; the overage is returned, never charged", () => {
    const held = step(undefined, [reserve("a", 10, 2)]);
    const over = step(held.state, [settle("a", 1_000_000, 1)]);
    expect(over.results[0]).toEqual({
      ok: true,
      recorded: true,
      charged: { input: 10, output: 1 },
      overage: { input: 999_990, output: 0 },
    });
    expect(over.state?.used).toEqual({ input: 10, output: 1 });
    expect(capToReservation({ input: 3, output: 9 }, { input: 5, output: 5 })).toEqual({
      charged: { input: 3, output: 5 },
      overage: { input: 0, output: 4 },
    });
  });

  it("a call estimated at nothing is refused once usage equals the limit", () => {
    const spent = step(step(undefined, [reserve("a", 100)]).state, [settle("a", 100)]).state;
    expect(step(spent, [reserve("free", 0)]).results[0]).toEqual({
      ok: false,
      why: "exceeded",
      dimension: "input",
      total: 100,
      limit: 100,
    });
    // One unit below the limit it is still admitted; a priced call still fits exactly.
    const almost = step(step(undefined, [reserve("b", 99)]).state, [settle("b", 99)]).state;
    expect(step(almost, [reserve("free", 0)]).results[0]).toEqual({ ok: true });
    expect(step(almost, [reserve("one", 1)]).results[0]).toEqual({ ok: true });
  });

  it("sums saturate at 2^53 − 1: the stored value stays readable and the limit still holds", () => {
    const max = Number.MAX_SAFE_INTEGER;
    const huge = { input: max, output: max };
    const op = (id: string, input: number): BudgetOp => ({
      kind: "reserve",
      id,
      estimate: { input, output: 0 },
      limits: huge,
      leaseMs: 5_000,
    });
    const a = step(undefined, [op("a", max - 1), op("b", 1)]);
    expect(a.results).toEqual([{ ok: true }, { ok: true }]);
    // Full to the limit: one more unit is refused although the saturated sum equals the limit.
    expect(step(a.state, [op("c", 1)]).results[0]).toMatchObject({ ok: false, total: max, limit: max });
    const settled = step(a.state, [settle("a", max - 1), settle("b", 1)]).state;
    expect(settled?.used.input).toBe(max);
    expect(budgetState.safeParse(settled).success).toBe(true);
    expect(addUnits({ input: max, output: 1 }, { input: max, output: 1 })).toEqual({ input: max, output: 2 });
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
    expect(late.results[0]).toMatchObject({ ok: true, recorded: false });
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
