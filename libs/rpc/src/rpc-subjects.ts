import { RPC_METHOD_PATTERN } from "@conclave/protocol";

// NATS subjects of the RPC plane. Gateway routes a method to `conclave.rpc.<method>`;
// handlers subscribe there in one queue group, so N handler processes share the load.

/** Root of every RPC subject; no other Conclave subject starts with it. */
export const RPC_SUBJECT_ROOT = "conclave.rpc";

/** The queue group every handler of a method joins: one of them answers each call. */
export const RPC_QUEUE_GROUP = "conclave-rpc";

/** The subject of one method (`echo.say` → `conclave.rpc.echo.say`); the pattern keeps wildcards out. */
export function rpcSubject(method: string): string {
  if (!RPC_METHOD_PATTERN.test(method)) throw new Error(`not an RPC method name: ${JSON.stringify(method)}`);
  return `${RPC_SUBJECT_ROOT}.${method}`;
}
