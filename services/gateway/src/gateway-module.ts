import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { generateEd25519KeyPair } from "@conclave/auth";
import {
  isLoopbackHost,
  type ServiceContext,
  type ServiceEnv,
  type ServiceModule,
  usersTable,
} from "@conclave/runtime";
import { projected } from "@conclave/store";
import { Counter } from "prom-client";
import { installGate } from "./access/gateway-gate.ts";
import { registerAuditRoutes } from "./audit/audit-routes.ts";
import { AuditTrail } from "./audit/audit-trail.ts";
import { type GatewayConfig, loadGatewayConfig } from "./gateway-config.ts";
import { BudgetLedger } from "./limits/budget-ledger.ts";
import { registerBudgetRoutes } from "./limits/budget-routes.ts";
import { RateLimiter } from "./limits/rate-limiter.ts";
import { TenantPlans } from "./limits/tenant-plans.ts";
import { registerRpcRoutes } from "./rpc/rpc-routes.ts";
import { revocationsProjection } from "./sessions/revocations-projection.ts";
import { revokedToken, SESSION_EVENT_SCHEMAS } from "./sessions/session-events.ts";
import { SessionIssuer } from "./sessions/session-issuer.ts";
import { registerJwksRoute, registerSessionRoutes } from "./sessions/session-routes.ts";
import { verifySessionToken } from "./sessions/session-verifier.ts";
import { TokenKeys } from "./sessions/token-keys.ts";

/** Seconds a token's iat may be ahead of our clock (docs/gateway.md). */
export const IAT_FUTURE_SKEW_S = 60;

export interface GatewayModuleOptions {
  /** Default: from CONCLAVE_GATEWAY_* variables at register time. */
  config?: GatewayConfig;
  /** Milliseconds since the epoch (tests pass a fake clock). */
  now?: () => number;
}

/** What a running gateway exposes to its process (tests, the local start). */
export interface GatewayHandles {
  config: GatewayConfig;
  keys: TokenKeys;
  ledger: BudgetLedger;
  plans: TenantPlans;
  audit: AuditTrail;
}

/**
 * The configuration a process starts with. Without a JWT key a loopback bind
 * (the local start, a developer's machine) gets an ephemeral one, so tokens
 * verify on this process only; any other bind refuses to start without one.
 */
export function gatewayConfigFor(ctx: { env: ServiceEnv; logger: { warn(msg: string): void } }): GatewayConfig {
  const loopback = isLoopbackHost(ctx.env.CONCLAVE_HOST);
  return loadGatewayConfig(process.env, {
    ...(loopback
      ? {
          ephemeralKey: (alg) => {
            ctx.logger.warn("no CONCLAVE_GATEWAY_JWT_KEY: an ephemeral key signs tokens (valid on this process only)");
            return alg === "EdDSA" ? generateEd25519KeyPair().secretKey : new Uint8Array(randomBytes(32));
          },
        }
      : {}),
  });
}

/** The gateway service: sessions, revocation, budgets, rate limits, scopes, RPC routing, audit. */
export function createGatewayModule(options: GatewayModuleOptions = {}): ServiceModule & {
  handles(ctx: ServiceContext): GatewayHandles;
} {
  const byContext = new WeakMap<ServiceContext, GatewayHandles>();
  return {
    name: "gateway",
    eventSchemas: { ...SESSION_EVENT_SCHEMAS },
    projections: [revocationsProjection],
    handles(ctx) {
      const h = byContext.get(ctx);
      if (!h) throw new Error("the gateway module is not registered in this host");
      return h;
    },
    async register(ctx) {
      const now = options.now ?? Date.now;
      const config = options.config ?? gatewayConfigFor(ctx);
      const { store } = ctx;
      const instance = ctx.env.CONCLAVE_INSTANCE ?? `${hostname()}-${process.pid}`;
      const keys = TokenKeys.fromConfig(config.jwt);
      const plans = new TenantPlans(store, config);
      const ledger = new BudgetLedger({
        store,
        periodS: config.budget.periodS,
        leaseMs: config.budget.leaseMs,
        now,
        onSettleLost: (tenant, id, err) =>
          ctx.logger.error(
            { err, tenant, reservation: id },
            "budget settle not recorded: the reservation is charged at its estimate when its lease ends",
          ),
      });
      const audit = new AuditTrail(store, now, instance);
      audit.start();
      ctx.edge.app.addHook("onClose", () => audit.stop());
      const rateLimiter = new RateLimiter({ store, windowMs: config.rate.windowMs, now });
      const revoked = store.table("revoked", projected(revokedToken));
      const users = usersTable(store);
      const policy = {
        keys,
        issuer: config.jwt.issuer,
        maxLifetimeS: config.jwt.maxTtlS,
        futureSkewS: IAT_FUTURE_SKEW_S,
      };
      const decisions = new Counter({
        name: "conclave_gateway_decisions_total",
        help: "Gateway requests by audited outcome",
        labelNames: ["outcome"] as const,
        registers: [ctx.edge.registry],
      });
      const auditLost = new Counter({
        name: "conclave_gateway_audit_lost_total",
        help: "Audit records whose append failed (the answer was sent all the same)",
        registers: [ctx.edge.registry],
      });
      byContext.set(ctx, { config, keys, ledger, plans, audit });

      registerJwksRoute(ctx.edge.app, keys);
      await ctx.edge.app.register(async (scope) => {
        installGate(scope, {
          verifyToken: (token) =>
            verifySessionToken(token, { policy, users, revoked, confirmFresh: () => store.witness.confirm(), now }),
          plans,
          rateLimiter,
          audit,
          instance,
          opTimeoutMs: store.opTimeoutMs,
          onOutcome: (outcome) => decisions.inc({ outcome }),
          onAuditLost: () => auditLost.inc(),
        });
        registerSessionRoutes(scope, {
          issuer: new SessionIssuer({
            log: ctx.log,
            keys,
            issuer: config.jwt.issuer,
            defaultTtlS: config.jwt.defaultTtlS,
            maxTtlS: config.jwt.maxTtlS,
            now,
          }),
          revocation: { store, log: ctx.log },
        });
        registerBudgetRoutes(scope, { ledger, plans, config, now });
        registerRpcRoutes(scope, {
          nc: store.conn.nc,
          gate: store.conn.gate,
          ledger,
          methods: config.rpc.methods,
          log: ctx.logger,
        });
        registerAuditRoutes(scope, audit);
      });
    },
  };
}

/** The gateway as the local start and `main.ts` mount it (configuration from the environment). */
export const gatewayModule = createGatewayModule();
