import { z } from "zod";
import { WIRE_STATUS, type WireCode } from "./wire-errors.ts";

/** The envelope version of `POST /v1/rpc` (docs/gateway.md). */
export const RPC_PROTOCOL = "conclave.v1";

/**
 * RPC method names: 2–4 lowercase dot-separated words (`rooms.summarize`).
 * Each word becomes one NATS subject token, so nothing else may appear in them.
 */
export const RPC_METHOD_PATTERN = /^[a-z][a-z0-9_]{0,31}(\.[a-z][a-z0-9_]{0,31}){1,3}$/;

export const rpcMethodName = z
  .string()
  .regex(RPC_METHOD_PATTERN, "method must be 2–4 dot-separated lowercase words such as echo.say");

/** A caller's request id, echoed back: a short string or an integer. */
export const rpcId = z.union([z.string().min(1).max(128), z.number().int().safe()]);

export const rpcRequest = z
  .object({
    protocol: z.literal(RPC_PROTOCOL),
    id: rpcId,
    method: rpcMethodName,
    params: z.unknown().optional(),
  })
  .strict();

export type RpcRequest = z.infer<typeof rpcRequest>;

/** Error codes of the RPC route: the one wire table (router codes included there). */
export const RPC_ERROR_STATUS = WIRE_STATUS;

export type RpcErrorCode = WireCode;

/** Units a call consumed, reported by its handler and recorded against the tenant's budget. */
export const usageUnits = z
  .object({ input: z.number().int().nonnegative().safe(), output: z.number().int().nonnegative().safe() })
  .strict();

export type UsageUnits = z.infer<typeof usageUnits>;

export interface RpcSuccessBody {
  protocol: typeof RPC_PROTOCOL;
  id: string | number | null;
  result: unknown;
  usage?: UsageUnits;
}

export interface RpcErrorBody {
  protocol: typeof RPC_PROTOCOL;
  id: string | number | null;
  error: { code: RpcErrorCode; message: string; reason?: string };
}
