import type { BudgetView, RevocationResult, TenantPlanRequest } from "@conclave/protocol";
import { EventLog, type Store } from "@conclave/store";
import type { GatewayConfig } from "./gateway-config.ts";
import { BudgetLedger } from "./limits/budget-ledger.ts";
import { TenantPlans } from "./limits/tenant-plans.ts";
import { SESSION_EVENT_SCHEMAS } from "./sessions/session-events.ts";
import { revokeToken } from "./sessions/token-revocation.ts";

// What the admin CLI calls with direct store access (an operator, not an API caller).

/** Revokes a session token by jti, exactly as `POST /v1/tokens/{jti}/revoke` does. */
export function revokeTokenAsOperator(
  store: Store,
  jti: string,
  opts: { operator: string; reason?: string },
): Promise<RevocationResult> {
  const log = new EventLog(store.conn, SESSION_EVENT_SCHEMAS, { opTimeoutMs: store.opTimeoutMs });
  return revokeToken({ store, log }, { kind: "operator", name: opts.operator }, jti, opts.reason);
}

/** `budgets show`: what `GET /v1/budget` answers for the tenant. */
export async function showTenantBudget(store: Store, config: GatewayConfig, tenant: string): Promise<BudgetView> {
  const plans = new TenantPlans(store, config);
  const ledger = new BudgetLedger({
    store,
    periodS: config.budget.periodS,
    leaseMs: config.budget.leaseMs,
    now: Date.now,
  });
  return ledger.view(tenant, await plans.effective(tenant));
}

/** `budgets set`: what `PUT /v1/tenants/{tenant}/budget` does. */
export async function setTenantBudget(
  store: Store,
  config: GatewayConfig,
  tenant: string,
  plan: TenantPlanRequest,
  operator: string,
): Promise<BudgetView> {
  if (plan.tier !== undefined && !(plan.tier in config.rate.tiers)) throw new Error(`unknown tier ${plan.tier}`);
  await new TenantPlans(store, config).set(tenant, plan, `operator:${operator}`, Date.now());
  return showTenantBudget(store, config, tenant);
}
