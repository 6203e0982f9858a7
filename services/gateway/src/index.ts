export { ADMIN_SCOPE, RPC_MUTATION_SCOPE, RPC_READ_SCOPES } from "./access/scope-policy.ts";
export { type AuditDraft, AuditTrail, UNATTRIBUTED } from "./audit/audit-trail.ts";
export { DENIAL_SLACK_MS, denialBoundMs, waitAtMost } from "./audit/denial-bound.ts";
export {
  DEFAULT_TIERS,
  type GatewayConfig,
  GatewayConfigError,
  gatewayEnvSchema,
  loadGatewayConfig,
  type MethodKind,
  type MethodSpec,
} from "./gateway-config.ts";
export {
  createGatewayModule,
  type GatewayHandles,
  type GatewayModuleOptions,
  gatewayConfigFor,
  gatewayModule,
  IAT_FUTURE_SKEW_S,
} from "./gateway-module.ts";
export { BudgetLedger, type BudgetLedgerDeps, type Reservation } from "./limits/budget-ledger.ts";
export { type EffectivePlan, TenantPlans } from "./limits/tenant-plans.ts";
export { revocationsProjection } from "./sessions/revocations-projection.ts";
export { SESSION_EVENT_SCHEMAS } from "./sessions/session-events.ts";
export { revokeToken } from "./sessions/token-revocation.ts";
