import { ApiError, tenantId } from "@conclave/protocol";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { callerOf, planOf } from "../access/gateway-gate.ts";
import { mayManageTenant, mayReadTenant } from "../access/scope-policy.ts";
import type { GatewayConfig } from "../gateway-config.ts";
import type { BudgetLedger } from "./budget-ledger.ts";
import { planRequestSchema, type TenantPlans } from "./tenant-plans.ts";

const budgetQuery = z.object({ tenant: tenantId.optional() }).strict();
const tenantParams = z.object({ tenant: tenantId }).strict();

export interface BudgetRouteDeps {
  ledger: BudgetLedger;
  plans: TenantPlans;
  config: GatewayConfig;
  now: () => number;
}

/**
 * `GET /v1/budget` (own tenant; operators may name any) and `PUT /v1/tenants/{tenant}/budget`
 * (the tenant's admins, operators). Another tenant looks like no tenant (404) to an admin.
 */
export function registerBudgetRoutes(scope: FastifyInstance, deps: BudgetRouteDeps): void {
  const planRequest = planRequestSchema(deps.config);
  scope.get("/v1/budget", { config: { body: "none", auth: "signed-or-bearer" } }, async (request) => {
    const caller = callerOf(request);
    const { tenant = caller.principal.tenant } = budgetQuery.parse(request.query ?? {});
    if (!mayReadTenant(caller, tenant)) throw new ApiError("not_found", "no such tenant");
    const plan = tenant === caller.principal.tenant ? planOf(request) : await deps.plans.effective(tenant);
    return deps.ledger.view(tenant, plan);
  });

  scope.put("/v1/tenants/:tenant/budget", { config: { body: "json", auth: "signed-or-bearer" } }, async (request) => {
    const caller = callerOf(request);
    const { tenant } = tenantParams.parse(request.params);
    if (!mayManageTenant(caller, tenant)) {
      // Members are told what they lack; an admin of another tenant learns nothing about this one.
      if (caller.principal.tenant === tenant) throw new ApiError("forbidden", "only admins set budgets");
      throw new ApiError("not_found", "no such tenant");
    }
    const body = planRequest.parse(request.body);
    await deps.plans.set(tenant, body, caller.principal.signPub, deps.now());
    return deps.ledger.view(tenant, await deps.plans.effective(tenant));
  });
}
