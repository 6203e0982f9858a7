import { randomUUID } from "node:crypto";
import type { BudgetView, UnitPair } from "@conclave/protocol";
import { ApiError, overloadedError } from "@conclave/protocol";
import { ConflictError, type KvTable, type Store } from "@conclave/store";
import {
  applyBudgetOps,
  type BudgetOp,
  type BudgetResult,
  type BudgetState,
  budgetState,
  currentState,
  reservedTotal,
} from "./budget-state.ts";
import { CasBatcher } from "./cas-batcher.ts";
import type { EffectivePlan } from "./tenant-plans.ts";

export interface BudgetLedgerDeps {
  store: Store;
  periodS: number;
  leaseMs: number;
  now: () => number;
  /** Told when a settle could not be written for a whole lease (the reservation is then charged at its estimate). */
  onSettleLost?: (tenant: string, id: string, err: unknown) => void;
}

/** A live reservation: settle it exactly once with what the call really consumed. */
export interface Reservation {
  id: string;
  tenant: string;
  estimate: UnitPair;
}

const key = (tenant: string) => `usage.${tenant}`;

/**
 * Budgets shared by every replica: reserve the estimate before a metered call
 * (atomically against recorded usage plus live reservations, by CAS on the
 * tenant's one value), settle after it. Reservations are leases: one left by
 * a replica that died mid-call is charged at its estimate by the first
 * operation after its lease, on any replica (budget-state.ts).
 */
export class BudgetLedger {
  private readonly deps: BudgetLedgerDeps;
  private readonly table: KvTable<BudgetState>;
  private readonly batcher: CasBatcher<BudgetState, BudgetOp, BudgetResult>;

  constructor(deps: BudgetLedgerDeps) {
    this.deps = deps;
    this.table = deps.store.table("budgets", budgetState);
    this.batcher = new CasBatcher(this.table, (current, ops) => applyBudgetOps(current, ops, deps.now(), deps.periodS));
  }

  /** Reserves `estimate` or refuses with 429 budget_exceeded and the numbers. Store failures throw (→ 503). */
  async reserve(tenant: string, estimate: UnitPair, plan: EffectivePlan): Promise<Reservation> {
    const id = randomUUID();
    let result: BudgetResult;
    try {
      result = await this.batcher.submit(key(tenant), {
        kind: "reserve",
        id,
        estimate,
        limits: plan.limits,
        leaseMs: this.deps.leaseMs,
      });
    } catch (err) {
      // Still contended after every CAS attempt: shed, the caller may retry (never admit unreserved).
      if (err instanceof ConflictError) {
        throw overloadedError("budget contended, retry", { cause: err });
      }
      throw err;
    }
    if (!result.ok) {
      if (result.why === "too_many_in_flight") {
        throw overloadedError("too many calls in flight for this tenant");
      }
      throw new ApiError(
        "budget_exceeded",
        `budget exceeded: ${result.dimension} tokens ${result.total}/${result.limit}`,
        { reason: `${result.dimension}_budget` },
      );
    }
    return { id, tenant, estimate };
  }

  /**
   * Records what the call consumed and releases the rest. Idempotent by
   * reservation id, so it is retried — with backoff, for as long as the
   * reservation's lease runs — because once the lease ends the call is charged
   * its whole estimate instead of what it used. Under CAS contention a fixed
   * 3 attempts lost ~4 % of settles on this machine (the shared-limits test
   * caught it); only a store unavailable for a whole lease misses one now
   * (reported through onSettleLost, and the result is false): an over-count,
   * never an under-count.
   */
  async settle(reservation: Reservation, actual: UnitPair): Promise<boolean> {
    const deadline = Date.now() + this.deps.leaseMs;
    let last: unknown;
    for (let i = 0; Date.now() < deadline; i++) {
      try {
        await this.batcher.submit(key(reservation.tenant), { kind: "settle", id: reservation.id, actual });
        return true;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, Math.min(500, 25 * 2 ** i) * (0.5 + Math.random() / 2)));
      }
    }
    this.deps.onSettleLost?.(reservation.tenant, reservation.id, last);
    return false;
  }

  /** `GET /v1/budget`: a leader read, leases already expired left out. */
  async view(tenant: string, plan: EffectivePlan): Promise<BudgetView> {
    const now = this.deps.now();
    const state = currentState((await this.table.get(key(tenant)))?.value, now, this.deps.periodS);
    const reserved = reservedTotal(state);
    const periodMs = this.deps.periodS * 1000;
    return {
      tenant,
      tier: plan.tier,
      period: {
        start: new Date(state.period * periodMs).toISOString(),
        end: new Date((state.period + 1) * periodMs).toISOString(),
        seconds: this.deps.periodS,
      },
      limits: plan.limits,
      used: state.used,
      reserved,
      remaining: {
        input: Math.max(0, plan.limits.input - state.used.input - reserved.input),
        output: Math.max(0, plan.limits.output - state.used.output - reserved.output),
      },
      live_reservations: Object.keys(state.reservations).length,
    };
  }
}
