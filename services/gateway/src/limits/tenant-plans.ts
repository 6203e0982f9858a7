import { type TenantPlanRequest, tenantPlanRequest, tierName } from "@conclave/protocol";
import type { KvTable, Store } from "@conclave/store";
import { z } from "zod";
import type { GatewayConfig } from "../gateway-config.ts";

/** An admin's settings for one tenant (budgets bucket, key `plan.<tenant>`). */
export const tenantPlanRecord = z
  .object({
    input: z.number().int().nonnegative().safe(),
    output: z.number().int().nonnegative().safe(),
    tier: tierName.optional(),
    updated_at: z.iso.datetime(),
    by: z.string().min(1).max(128),
  })
  .strict();

export type TenantPlanRecord = z.infer<typeof tenantPlanRecord>;

/**
 * `PUT /v1/tenants/{t}/budget` and `budgets set`: the tier must be one the
 * configuration names — an enum of its tiers, never a key looked up in an
 * object (`tier: "constructor"` once found Object.prototype.constructor and
 * broke the tenant: issue 15).
 */
export function planRequestSchema(config: GatewayConfig) {
  const [first, ...rest] = [...config.rate.tiers.keys()];
  return tenantPlanRequest.extend({ tier: z.enum([first ?? config.rate.defaultTier, ...rest]).optional() });
}

/** What applies to a tenant now: its plan if an admin set one, else the configured defaults. */
export interface EffectivePlan {
  tier: string;
  requestsPerWindow: number;
  limits: { input: number; output: number };
}

/** The plan of `tenant` given its stored record (if any); tiers and tenants are looked up in Maps. */
export function effectivePlan(
  config: GatewayConfig,
  tenant: string,
  plan: Pick<TenantPlanRecord, "input" | "output" | "tier"> | undefined,
): EffectivePlan {
  const rate = config.rate;
  let tier = plan?.tier ?? rate.tenantTiers.get(tenant) ?? rate.defaultTier;
  // A tier removed from the configuration falls back to the default rather than to "unlimited".
  if (!rate.tiers.has(tier)) tier = rate.defaultTier;
  return {
    tier,
    requestsPerWindow: rate.tiers.get(tier) ?? 1,
    limits: plan ? { input: plan.input, output: plan.output } : { ...config.budget.defaults },
  };
}

export class TenantPlans {
  private readonly table: KvTable<TenantPlanRecord>;
  private readonly config: GatewayConfig;

  constructor(store: Store, config: GatewayConfig) {
    this.table = store.table("budgets", tenantPlanRecord);
    this.config = config;
  }

  /** A leader read: a store failure throws (→ 503). */
  async effective(tenant: string): Promise<EffectivePlan> {
    return effectivePlan(this.config, tenant, (await this.table.get(`plan.${tenant}`))?.value);
  }

  async set(tenant: string, plan: TenantPlanRequest, by: string, now: number): Promise<void> {
    await this.table.put(`plan.${tenant}`, { ...plan, updated_at: new Date(now).toISOString(), by });
  }
}
