import { ownValue, type UnitPair } from "@conclave/protocol";
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

export type SettleResult = { ok: true; recorded: boolean; charged: UnitPair; overage: UnitPair };

export type BudgetResult = ReserveResult | SettleResult;

const DIMENSIONS = ["input", "output"] as const;

/**
 * Sums of units saturate at 2^53 − 1: the stored value must stay a safe
 * integer or the tenant's budget could not be read back (a report near 2^53
 * made it unreadable: issue 15).
 */
export function addUnits(a: UnitPair, b: UnitPair): UnitPair {
  return {
    input: Math.min(Number.MAX_SAFE_INTEGER, a.input + b.input),
    output: Math.min(Number.MAX_SAFE_INTEGER, a.output + b.output),
  };
}

/**
 * What a handler's report may charge: at most what was reserved for the call,
 * per dimension; the rest is overage, never charged (the reservation is the
 * call's worst case, so recorded usage never passes the limit). The router
 * refuses a result whose report exceeds it (rpc-router.ts).
 */
export function capToReservation(reported: UnitPair, reserved: UnitPair): { charged: UnitPair; overage: UnitPair } {
  return {
    charged: { input: Math.min(reported.input, reserved.input), output: Math.min(reported.output, reserved.output) },
    overage: {
      input: Math.max(0, reported.input - reserved.input),
      output: Math.max(0, reported.output - reserved.output),
    },
  };
}

const NOTHING: UnitPair = { input: 0, output: 0 };

export function periodOf(now: number, periodS: number): number {
  return Math.floor(now / (periodS * 1000));
}

export function reservedTotal(state: BudgetState): UnitPair {
  let total = NOTHING;
  for (const r of Object.values(state.reservations)) total = addUnits(total, r);
  return total;
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
  state.used = addUnits(state.used, units);
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
      const held = addUnits(state.used, reservedTotal(state));
      const total = addUnits(held, op.estimate);
      // A call estimated at nothing still needs budget left: at usage == limit it is refused too.
      const free = op.estimate.input === 0 && op.estimate.output === 0;
      for (const dimension of DIMENSIONS) {
        const limit = op.limits[dimension];
        // Compared as room left, not as a sum: a saturated sum would equal a limit of 2^53 − 1 and pass.
        const room = limit - held[dimension];
        if (op.estimate[dimension] > room || (free && room <= 0))
          return { ok: false, why: "exceeded", dimension, total: total[dimension], limit };
      }
      state.reservations[op.id] = { ...op.estimate, expires: now + op.leaseMs };
      changed = true;
      return { ok: true };
    }
    const reservation = ownValue(state.reservations, op.id);
    // Settled already, or its lease ended and it was charged at its estimate: nothing more to charge.
    if (!reservation) return { ok: true, recorded: false, charged: NOTHING, overage: NOTHING };
    const { charged, overage } = capToReservation(op.actual, reservation);
    delete state.reservations[op.id];
    charge(state, charged);
    rememberSettled(state, op.id);
    changed = true;
    return { ok: true, recorded: true, charged, overage };
  });
  // Nothing but refusals: no write. A refusal needs no quorum witness; an admission always writes.
  return { next: changed ? state : undefined, results };
}
