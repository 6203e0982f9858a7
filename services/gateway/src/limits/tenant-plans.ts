import { type TenantPlanRequest, tierName } from "@conclave/protocol";
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

/** What applies to a tenant now: its plan if an admin set one, else the configured defaults. */
export interface EffectivePlan {
  tier: string;
  requestsPerWindow: number;
  limits: { input: number; output: number };
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
    const plan = (await this.table.get(`plan.${tenant}`))?.value;
    const rate = this.config.rate;
    let tier = plan?.tier ?? rate.tenantTiers[tenant] ?? rate.defaultTier;
    // A tier removed from the configuration falls back to the default rather than to "unlimited".
    if (!(tier in rate.tiers)) tier = rate.defaultTier;
    return {
      tier,
      requestsPerWindow: rate.tiers[tier] ?? 1,
      limits: plan ? { input: plan.input, output: plan.output } : { ...this.config.budget.defaults },
    };
  }

  async set(tenant: string, plan: TenantPlanRequest, by: string, now: number): Promise<void> {
    await this.table.put(`plan.${tenant}`, { ...plan, updated_at: new Date(now).toISOString(), by });
  }
}
