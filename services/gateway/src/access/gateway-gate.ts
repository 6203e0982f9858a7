import { toApiError } from "@conclave/http";
import { ApiError, type AuditOutcome, type UnitPair, unavailableError } from "@conclave/protocol";
import { decideWithin } from "@conclave/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { outcomeOfError, outcomeOfStatus } from "../audit/audit-outcome.ts";
import type { AuditTrail } from "../audit/audit-trail.ts";
import { waitAtMost } from "../audit/denial-bound.ts";
import { type RateLimiter, rateLimitHeaders } from "../limits/rate-limiter.ts";
import type { EffectivePlan, TenantPlans } from "../limits/tenant-plans.ts";
import { TokenDenied } from "../sessions/session-verifier.ts";
import type { SessionClaims } from "../sessions/token-policy.ts";
import type { Caller } from "./caller.ts";

/** What the gateway learned about one request, for its handler and its audit record. */
export interface GatewayRequestState {
  caller?: Caller;
  plan?: EffectivePlan;
  /** Set by whoever decided; otherwise derived from the error or the status. */
  outcome?: AuditOutcome;
  reason?: string;
  method?: string;
  usage?: UnitPair;
  /** Claims of a refused token whose signature verified. */
  claims?: Partial<SessionClaims>;
}

declare module "fastify" {
  interface FastifyRequest {
    gateway?: GatewayRequestState;
  }
}

export interface GateDeps {
  /** THE token verification (session-verifier.ts). */
  verifyToken(token: string): Promise<Caller>;
  plans: TenantPlans;
  rateLimiter: RateLimiter;
  audit: AuditTrail;
  instance: string;
  /** The store's operation timeout: a refusal is answered within it of its arrival (denial-bound.ts). */
  opTimeoutMs: number;
  onOutcome?: (outcome: AuditOutcome) => void;
  /** An audit record that could not be appended (logged as well). */
  onAuditLost?: () => void;
}

const BEARER = /^bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

export function gatewayState(request: FastifyRequest): GatewayRequestState {
  request.gateway ??= {};
  return request.gateway;
}

/** The authenticated caller; routes behind the gate always have one. */
export function callerOf(request: FastifyRequest): Caller {
  const caller = request.gateway?.caller;
  if (!caller) throw new ApiError("unauthorized", "request authentication failed", { reason: "unsigned" });
  return caller;
}

export function planOf(request: FastifyRequest): EffectivePlan {
  const plan = request.gateway?.plan;
  if (!plan) throw new Error("gateway plan missing: route registered outside the gate");
  return plan;
}

/** Marks a decision before throwing it, so the audit record names it exactly. */
export function decide(request: FastifyRequest, outcome: AuditOutcome, reason?: string): void {
  const state = gatewayState(request);
  state.outcome = outcome;
  if (reason !== undefined) state.reason = reason;
}

/**
 * The gateway's request pipeline for every route registered in `scope`, after
 * the signed-request hook: who is calling (a verified signature, or a bearer
 * token through the one verification function) → the tenant's plan → the
 * shared rate limit, whose headers then go on every response of the tenant.
 * Every allow leaves its audit record before it is sent; a refusal waits for
 * its record only while its own deadline lasts (arrival + operation timeout),
 * then is answered with the append still going on under the append's own
 * deadline: under quorum loss the append would otherwise add a second timeout
 * to every 503 (issue 16). The gate's store calls (token reads and witness,
 * plan, rate limit) end by the same deadline together, not each by its own.
 */
export function installGate(scope: FastifyInstance, deps: GateDeps): void {
  scope.addHook("preHandler", (request, reply) =>
    decideWithin(reply, deps.opTimeoutMs, () => admit(request, reply, deps)),
  );

  scope.addHook("onError", async (request, _reply, error) => {
    const state = gatewayState(request);
    const answer = toApiError(error);
    if (!state.outcome) state.outcome = outcomeOfError(answer);
    if (state.reason === undefined && answer.reason !== undefined) state.reason = answer.reason;
  });

  scope.addHook("onSend", async (request, reply, payload) => {
    await recordAudit(request, reply, deps);
    return payload;
  });
}

/** Who is calling, under which plan, within the tenant's rate: throws the refusal. */
async function admit(request: FastifyRequest, reply: FastifyReply, deps: GateDeps): Promise<void> {
  const state = gatewayState(request);
  const auth = request.routeOptions.config.auth;
  const authorization = request.headers.authorization;
  if (request.principal) {
    if (auth === "signed-or-bearer" && authorization !== undefined) {
      decide(request, "auth_denied", "ambiguous_credentials");
      throw new ApiError("unauthorized", "send a signature or a bearer token, not both", {
        reason: "ambiguous_credentials",
      });
    }
    state.caller = { credential: "signed", principal: request.principal };
  } else if (auth === "signed-or-bearer" && typeof authorization === "string") {
    const token = BEARER.exec(authorization)?.[1];
    try {
      if (!token) throw new TokenDenied("auth_denied", "malformed");
      state.caller = await deps.verifyToken(token);
    } catch (err) {
      if (err instanceof TokenDenied) {
        state.claims = err.claims;
        decide(request, err.outcome, err.reason ?? undefined);
      }
      throw err;
    }
  } else {
    // Only reachable in the soft/off rollout modes: this route needs an identity all the same.
    decide(request, "auth_denied", "unsigned");
    throw new ApiError("unauthorized", "request authentication failed", { reason: "unsigned" });
  }
  const tenant = state.caller.principal.tenant;
  request.log = request.log.child({ tenant, subject: state.caller.principal.signPub });
  try {
    state.plan = await deps.plans.effective(tenant);
  } catch (err) {
    throw unavailableError("gateway store unavailable, retry later", err);
  }
  let decision: Awaited<ReturnType<RateLimiter["take"]>>;
  try {
    decision = await deps.rateLimiter.take(tenant, state.plan.requestsPerWindow);
  } catch (err) {
    throw unavailableError("rate limiter unavailable, retry later", err);
  }
  const headers = rateLimitHeaders(decision);
  reply.headers(headers);
  if (!decision.admitted) {
    decide(request, "rate_limited", state.plan.tier);
    throw new ApiError("rate_limited", `rate limit of ${decision.limit} requests per window reached`, {
      reason: "tenant_rate",
      headers: { "retry-after": headers["retry-after"] ?? "1" },
    });
  }
}

async function recordAudit(request: FastifyRequest, reply: FastifyReply, deps: GateDeps): Promise<void> {
  const state = gatewayState(request);
  const outcome = state.outcome ?? outcomeOfStatus(reply.statusCode);
  deps.onOutcome?.(outcome);
  const principal = state.caller?.principal;
  const tenant = principal?.tenant ?? state.claims?.tenant ?? null;
  const append = deps.audit
    .answer({
      tenant,
      subject: principal?.signPub ?? state.claims?.sub ?? null,
      credential:
        state.caller?.credential ??
        (request.headers["signature-input"] !== undefined
          ? "signed"
          : request.headers.authorization
            ? "bearer"
            : "none"),
      jti: state.caller?.jti ?? state.claims?.jti ?? null,
      route: `${request.method} ${request.routeOptions.url ?? request.url}`.slice(0, 128),
      method: state.method ?? null,
      outcome,
      status: reply.statusCode,
      reason: state.reason?.slice(0, 64) ?? null,
      request_id: String(request.id).slice(0, 128),
      instance: deps.instance.slice(0, 128),
      usage: state.usage ?? null,
    })
    .catch((err: unknown) => {
      // The answer is already decided (and an upstream call may have run): log loudly, do not turn it into another.
      deps.onAuditLost?.();
      request.log.error({ err, outcome }, "audit record lost");
    });
  if (reply.statusCode < 400) await append;
  else await waitAtMost(append, deps.opTimeoutMs - reply.elapsedTime);
}
