import type { UsageUnits } from "@conclave/protocol";
import { type NatsConnection, headers as natsHeaders, RequestError, TimeoutError } from "@nats-io/nats-core";
import { rpcSubject } from "./rpc-subjects.ts";
import { type HandlerErrorCode, RPC_HEADERS, upstreamReply } from "./rpc-wire.ts";

/** Who is calling, attached to every upstream request. */
export interface RpcCaller {
  tenant: string;
  subject: string;
  scopes: string[];
  requestId: string;
}

/** Every way an upstream call can end, for the router to map to the wire. */
export type RpcOutcome =
  | { kind: "result"; result: unknown; usage: UsageUnits | undefined }
  | { kind: "handler_error"; code: HandlerErrorCode; message: string; usage: UsageUnits | undefined }
  | { kind: "no_handler" }
  | { kind: "timeout" }
  /** The reply could not be read: a broken or hostile handler. */
  | { kind: "bad_reply"; detail: string }
  /** NATS itself failed (disconnected, draining): the call may or may not have run. */
  | { kind: "unavailable"; error: unknown };

/**
 * Calls a method over NATS request/reply with a deadline. Never throws:
 * every ending is an outcome, so the caller cannot forget one.
 */
export async function requestRpc(
  nc: NatsConnection,
  method: string,
  params: unknown,
  caller: RpcCaller,
  timeoutMs: number,
): Promise<RpcOutcome> {
  const hdrs = natsHeaders();
  hdrs.set(RPC_HEADERS.tenant, caller.tenant);
  hdrs.set(RPC_HEADERS.subject, caller.subject);
  hdrs.set(RPC_HEADERS.scopes, caller.scopes.join(" "));
  hdrs.set(RPC_HEADERS.requestId, caller.requestId);
  hdrs.set(RPC_HEADERS.deadline, String(Date.now() + timeoutMs));
  let reply: unknown;
  try {
    const msg = await nc.request(rpcSubject(method), JSON.stringify({ params: params ?? null }), {
      timeout: timeoutMs,
      headers: hdrs,
    });
    try {
      reply = msg.json();
    } catch {
      return { kind: "bad_reply", detail: "reply is not JSON" };
    }
  } catch (err) {
    if (err instanceof TimeoutError) return { kind: "timeout" };
    if (err instanceof RequestError && err.isNoResponders()) return { kind: "no_handler" };
    if (err instanceof Error && err.name === "NoRespondersError") return { kind: "no_handler" };
    return { kind: "unavailable", error: err };
  }
  const parsed = upstreamReply.safeParse(reply);
  if (!parsed.success) return { kind: "bad_reply", detail: parsed.error.issues[0]?.message ?? "invalid reply" };
  const value = parsed.data;
  if ("error" in value) return { kind: "handler_error", ...value.error, usage: value.usage };
  return { kind: "result", result: value.result, usage: value.usage };
}
