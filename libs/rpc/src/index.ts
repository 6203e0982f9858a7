/**
 * @conclave/rpc — the upstream side of the gateway's `POST /v1/rpc`: a service
 * registers methods with `serveRpc`; the gateway calls them with `requestRpc`.
 */
export { type RpcCaller, type RpcOutcome, requestRpc } from "./request-rpc.ts";
export { RPC_QUEUE_GROUP, RPC_SUBJECT_ROOT, rpcSubject } from "./rpc-subjects.ts";
export {
  HANDLER_ERROR_CODES,
  type HandlerErrorCode,
  RPC_HEADERS,
  type UpstreamReply,
  upstreamReply,
} from "./rpc-wire.ts";
export {
  type RpcCall,
  type RpcHandler,
  RpcHandlerError,
  type RpcServer,
  type ServeRpcOptions,
  serveRpc,
} from "./serve-rpc.ts";
