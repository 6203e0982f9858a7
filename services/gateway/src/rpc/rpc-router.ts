import {
  type AuditOutcome,
  RPC_ERROR_STATUS,
  RPC_PROTOCOL,
  type RpcErrorBody,
  type RpcErrorCode,
  retryAfterHeader,
  type UnitPair,
  type UsageUnits,
} from "@conclave/protocol";
import { type HandlerErrorCode, type RpcOutcome, requestRpc } from "@conclave/rpc";
import type { ConnectionGate } from "@conclave/store";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Caller } from "../access/caller.ts";
import { mayCallMethod } from "../access/scope-policy.ts";
import type { GatewayConfig, MethodSpec } from "../gateway-config.ts";
import type { BudgetLedger } from "../limits/budget-ledger.ts";
import { capToReservation } from "../limits/budget-state.ts";
import type { EffectivePlan } from "../limits/tenant-plans.ts";

/** A refusal or failure of one RPC call, in the envelope's terms. */
export class RpcFailure extends Error {
  readonly code: RpcErrorCode;
  readonly outcome: AuditOutcome;
  readonly reason: string | undefined;
  readonly headers: Record<string, string>;
  /** What the refused call was charged (for its audit record), when it ran. */
  readonly usage: UnitPair | undefined;

  constructor(
    code: RpcErrorCode,
    message: string,
    outcome: AuditOutcome,
    opts: { reason?: string; headers?: Record<string, string>; usage?: UnitPair } = {},
  ) {
    super(message);
    this.name = "RpcFailure";
    this.code = code;
    this.outcome = outcome;
    this.reason = opts.reason;
    this.headers = opts.headers ?? {};
    this.usage = opts.usage;
  }

  get status(): number {
    return RPC_ERROR_STATUS[this.code];
  }

  body(id: string | number | null): RpcErrorBody {
    return {
      protocol: RPC_PROTOCOL,
      id,
      error: { code: this.code, message: this.message, ...(this.reason ? { reason: this.reason } : {}) },
    };
  }
}

export interface RpcRouterDeps {
  nc: NatsConnection;
  /** The store connection's gate: a call in flight delays a lame-duck move instead of losing its reply. */
  gate?: ConnectionGate;
  ledger: BudgetLedger;
  methods: GatewayConfig["rpc"]["methods"];
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface RoutedCall {
  method: string;
  params: unknown;
  caller: Caller;
  plan: EffectivePlan;
  requestId: string;
}

export interface RoutedResult {
  result: unknown;
  usage: UnitPair;
}

/** Methods the caller may call, for listings: a caller never sees what it cannot use. */
export function visibleMethods(methods: ReadonlyMap<string, MethodSpec>, caller: Caller) {
  return [...methods]
    .filter(([, m]) => mayCallMethod(caller, m.kind))
    .map(([name, m]) => ({
      name,
      kind: m.kind,
      cost: m.cost,
      timeout_ms: m.timeoutMs,
      ...(m.description ? { description: m.description } : {}),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * One RPC call: catalogue → scope → reserve the method's estimated cost →
 * NATS request/reply with the method's timeout → settle with the usage the
 * handler reported. The reservation is settled on every path: released when
 * the call surely did not run (no handler), charged at the estimate when it
 * may have (timeout, unreadable reply, lost connection).
 */
export async function routeCall(call: RoutedCall, deps: RpcRouterDeps): Promise<RoutedResult> {
  const spec = deps.methods.get(call.method);
  if (!spec) throw new RpcFailure("method_not_found", `no such method: ${call.method}`, "method_not_found");
  if (!mayCallMethod(call.caller, spec.kind)) {
    throw new RpcFailure(
      "forbidden",
      spec.kind === "mutation"
        ? "this method changes state: it needs the rpc:call scope"
        : "needs rpc:read or rpc:call",
      "insufficient_scope",
      { reason: "insufficient_scope" },
    );
  }
  const reservation = await deps.ledger.reserve(call.caller.principal.tenant, spec.cost, call.plan);
  let outcome: RpcOutcome;
  const request = () =>
    requestRpc(
      deps.nc,
      call.method,
      call.params,
      {
        tenant: call.caller.principal.tenant,
        subject: call.caller.principal.signPub,
        scopes: call.caller.principal.scopes,
        requestId: call.requestId,
      },
      spec.timeoutMs,
    );
  try {
    outcome = await (deps.gate ? deps.gate.run(request) : request());
  } catch (err) {
    outcome = { kind: "unavailable", error: err };
  }
  const reported = chargeFor(outcome, spec);
  const { charged, overage } = capToReservation(reported, reservation.estimate);
  // Settled before answering, so the caller's next call (on any replica) sees the released remainder.
  await deps.ledger.settle(reservation, charged);
  if (overage.input > 0 || overage.output > 0) {
    deps.log.warn({ method: call.method, reported, charged, overage }, "handler reported more usage than reserved");
    // A result whose cost the budget did not hold is not handed out: the method's estimate is its maximum.
    if (outcome.kind === "result") {
      throw new RpcFailure(
        "bad_gateway",
        "the upstream handler reported more usage than was reserved",
        "upstream_error",
        {
          reason: "usage_over_reservation",
          usage: charged,
        },
      );
    }
  }
  switch (outcome.kind) {
    case "result":
      return { result: outcome.result, usage: charged };
    case "handler_error":
      if (outcome.code === "internal") {
        throw new RpcFailure("bad_gateway", "the upstream handler failed", "upstream_error");
      }
      // A failure the handler declared safe to show (invalid params, ...): passed through as is.
      throw new RpcFailure(outcome.code, outcome.message, HANDLER_OUTCOME[outcome.code], { reason: "handler" });
    case "no_handler":
      throw new RpcFailure("method_not_found", `no handler serves ${call.method} right now`, "method_not_found", {
        reason: "no_handler",
      });
    case "timeout":
      throw new RpcFailure(
        "upstream_timeout",
        `${call.method} did not answer within ${spec.timeoutMs} ms`,
        "upstream_timeout",
      );
    case "bad_reply":
      deps.log.warn({ method: call.method, detail: outcome.detail }, "unreadable upstream reply");
      throw new RpcFailure("bad_gateway", "the upstream handler failed", "upstream_error");
    case "unavailable":
      deps.log.error({ err: outcome.error, method: call.method }, "upstream call failed");
      throw new RpcFailure("unavailable", "upstream unreachable, retry later", "unavailable", {
        headers: retryAfterHeader(),
      });
  }
}

const HANDLER_OUTCOME = {
  bad_request: "invalid_request",
  not_found: "not_found",
  forbidden: "forbidden",
  conflict: "conflict",
} as const satisfies Record<Exclude<HandlerErrorCode, "internal">, AuditOutcome>;

/** What a finished call reports: the handler's report; the estimate when the call may have run unreported. */
function chargeFor(outcome: RpcOutcome, spec: MethodSpec): UsageUnits {
  switch (outcome.kind) {
    case "result":
    case "handler_error":
      return outcome.usage ?? spec.cost;
    case "no_handler":
      return { input: 0, output: 0 };
    default:
      return spec.cost;
  }
}
