import { storeErrorToApi } from "@conclave/http";
import { ApiError, RPC_PROTOCOL, type RpcSuccessBody, rpcRequest } from "@conclave/protocol";
import { StoreError } from "@conclave/store";
import type { FastifyInstance } from "fastify";
import { callerOf, decide, gatewayState, planOf } from "../access/gateway-gate.ts";
import { outcomeOfError } from "../audit/audit-outcome.ts";
import { RpcFailure, type RpcRouterDeps, routeCall, visibleMethods } from "./rpc-router.ts";

/** Answered by the gateway itself: the methods the caller may call. */
const LIST_METHOD = "rpc.methods";

function envelopeId(body: unknown): string | number | null {
  const id = (body as { id?: unknown } | null | undefined)?.id;
  return (typeof id === "string" && id.length > 0 && id.length <= 128) ||
    (typeof id === "number" && Number.isSafeInteger(id))
    ? id
    : null;
}

/** `POST /v1/rpc` and the method listing. Errors after authentication come back in the envelope. */
export function registerRpcRoutes(scope: FastifyInstance, deps: RpcRouterDeps): void {
  scope.post("/v1/rpc", { config: { body: "json", auth: "signed-or-bearer" } }, async (request, reply) => {
    const caller = callerOf(request);
    const id = envelopeId(request.body);
    const state = gatewayState(request);
    try {
      const parsed = rpcRequest.safeParse(request.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue?.path.map(String).join(".") || "envelope";
        throw new RpcFailure(
          "bad_request",
          `invalid ${field}: ${issue?.message ?? "invalid value"}`,
          "invalid_request",
        );
      }
      const envelope = parsed.data;
      state.method = envelope.method;
      let body: RpcSuccessBody;
      if (envelope.method === LIST_METHOD) {
        body = { protocol: RPC_PROTOCOL, id: envelope.id, result: { methods: visibleMethods(deps.methods, caller) } };
      } else {
        const routed = await routeCall(
          {
            method: envelope.method,
            params: envelope.params,
            caller,
            plan: planOf(request),
            requestId: String(request.id),
          },
          deps,
        );
        state.usage = routed.usage;
        body = { protocol: RPC_PROTOCOL, id: envelope.id, result: routed.result, usage: routed.usage };
      }
      decide(request, "ok");
      return reply.code(200).send(body);
    } catch (caught) {
      const err = caught instanceof StoreError ? storeErrorToApi(caught) : caught;
      const failure =
        err instanceof RpcFailure
          ? err
          : err instanceof ApiError
            ? new RpcFailure(err.code, err.message, outcomeOfError(err), {
                ...(err.reason ? { reason: err.reason } : {}),
                headers: err.headers,
              })
            : undefined;
      if (!failure) throw err;
      if (failure.usage) state.usage = failure.usage;
      decide(request, failure.outcome, failure.reason);
      if (failure.status >= 500) request.log.warn({ code: failure.code, method: state.method }, "rpc call failed");
      return reply.code(failure.status).headers(failure.headers).send(failure.body(id));
    }
  });

  scope.get("/v1/rpc/methods", { config: { body: "none", auth: "signed-or-bearer" } }, async (request) => {
    return { methods: visibleMethods(deps.methods, callerOf(request)) };
  });
}
