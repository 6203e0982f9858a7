import type { UnitPair } from "@conclave/protocol";
import { z } from "zod";

/**
 * One tenant's budget usage for the current period (budgets bucket, key
 * `usage.<tenant>`): recorded usage plus the live reservations, each keyed by
 * its id, so every operation is idempotent and a retried write after an
 * unknown outcome changes nothing. Pure functions; budget-ledger.ts stores it.
 */
const units = z.number().int().nonnegative().safe();

export const budgetState = z
  .object({
    /** Index of the budget period (floor(now / period)). */
    period: z.number().int().nonnegative(),
    used: z.object({ input: units, output: units }).strict(),
    /** Live reservations: id → estimated units and lease expiry (ms since the epoch). */
    reservations: z.record(
      z.string().max(64),
      z.object({ input: units, output: units, expires: z.number().int() }).strict(),
    ),
    /** Ids settled recently, newest last: a retried settle is recognised and not counted twice. */
    settled: z.array(z.string().max(64)).max(512),
  })
  .strict();

export type BudgetState = z.infer<typeof budgetState>;

export const SETTLED_MEMORY = 256;
/** A tenant cannot hold more calls in flight than this (keeps the value small; beyond it: 503). */
export const MAX_LIVE_RESERVATIONS = 1_000;

export type BudgetOp =
  | { kind: "reserve"; id: string; estimate: UnitPair; limits: UnitPair; leaseMs: number }
  | { kind: "settle"; id: string; actual: UnitPair };

export type ReserveResult =
  | { ok: true }
  | { ok: false; why: "exceeded"; dimension: "input" | "output"; total: number; limit: number }
  | { ok: false; why: "too_many_in_flight" };

export type BudgetResult = ReserveResult | { ok: true; recorded: boolean };

export function periodOf(now: number, periodS: number): number {
  return Math.floor(now / (periodS * 1000));
}

export function reservedTotal(state: BudgetState): UnitPair {
  let input = 0;
  let output = 0;
  for (const r of Object.values(state.reservations)) {
    input += r.input;
    output += r.output;
  }
  return { input, output };
}

/**
 * The state as of `now`: a new period starts from zero usage (live
 * reservations carry over: their calls are still running), and a reservation
 * whose lease has ended is charged at its estimate. Its call may have run
 * without its usage being recorded (the replica died mid-call, or its settle
 * never reached the store), and an unknown outcome costs the estimate, as a
 * timed-out call does. Releasing it instead would let that spend go unseen:
 * the budget could then be exceeded in fact while the ledger stayed under its
 * limit. The id is remembered as settled, so a late settle changes nothing.
 */
export function currentState(stored: BudgetState | undefined, now: number, periodS: number): BudgetState {
  const period = periodOf(now, periodS);
  const base: BudgetState = stored
    ? { ...stored, reservations: reservationTable(stored.reservations), settled: [...stored.settled] }
    : { period, used: { input: 0, output: 0 }, reservations: reservationTable({}), settled: [] };
  if (base.period < period) {
    base.period = period;
    base.used = { input: 0, output: 0 };
  }
  for (const [id, r] of Object.entries(base.reservations)) {
    if (r.expires > now) continue;
    delete base.reservations[id];
    // A lease that ended in an earlier period is charged to that period, whose usage is gone.
    if (periodOf(r.expires, periodS) === period) charge(base, { input: r.input, output: r.output });
    rememberSettled(base, id);
  }
  return base;
}

/** A null-prototype copy: reservation ids are keys, and no id may reach Object.prototype (issue 15). */
function reservationTable(from: BudgetState["reservations"]): BudgetState["reservations"] {
  return Object.assign(Object.create(null) as BudgetState["reservations"], from);
}

function charge(state: BudgetState, units: UnitPair): void {
  state.used = { input: state.used.input + units.input, output: state.used.output + units.output };
}

function rememberSettled(state: BudgetState, id: string): void {
  state.settled.push(id);
  if (state.settled.length > SETTLED_MEMORY) state.settled.splice(0, state.settled.length - SETTLED_MEMORY);
}

/** Applies operations in order. `next` is undefined when nothing needs writing. */
export function applyBudgetOps(
  stored: BudgetState | undefined,
  ops: readonly BudgetOp[],
  now: number,
  periodS: number,
): { next: BudgetState | undefined; results: BudgetResult[] } {
  const state = currentState(stored, now, periodS);
  let changed =
    !stored ||
    stored.period !== state.period ||
    Object.keys(stored.reservations).length !== Object.keys(state.reservations).length;
  const results = ops.map((op): BudgetResult => {
    if (op.kind === "reserve") {
      if (Object.hasOwn(state.reservations, op.id) || state.settled.includes(op.id)) return { ok: true };
      if (Object.keys(state.reservations).length >= MAX_LIVE_RESERVATIONS)
        return { ok: false, why: "too_many_in_flight" };
      const reserved = reservedTotal(state);
      for (const dimension of ["input", "output"] as const) {
        const total = state.used[dimension] + reserved[dimension] + op.estimate[dimension];
        if (total > op.limits[dimension])
          return { ok: false, why: "exceeded", dimension, total, limit: op.limits[dimension] };
      }
      state.reservations[op.id] = { ...op.estimate, expires: now + op.leaseMs };
      changed = true;
      return { ok: true };
    }
    if (state.settled.includes(op.id)) return { ok: true, recorded: false };
    delete state.reservations[op.id];
    charge(state, op.actual);
    rememberSettled(state, op.id);
    changed = true;
    return { ok: true, recorded: true };
  });
  // Nothing but refusals: no write. A refusal needs no quorum witness; an admission always writes.
  return { next: changed ? state : undefined, results };
}
