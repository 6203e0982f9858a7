export { publicKey32, role, scope, TENANT_PATTERN, tenantId } from "./identity.ts";
export { type NewUser, newUser, type UserRecord, userRecord } from "./users.ts";
export type { BlobRef } from "./wire-blobs.ts";
export {
  ApiError,
  isApiError,
  overloadedError,
  RETRY_AFTER_S,
  retryAfterHeader,
  unavailableError,
  WIRE_STATUS,
  type WireCode,
  type WireErrorBody,
} from "./wire-errors.ts";
export {
  AUDIT_OUTCOMES,
  type AuditEvent,
  type AuditOutcome,
  type AuditPage,
  auditEvent,
  auditOutcome,
  type BudgetView,
  type RevocationResult,
  type SessionRequest,
  type SessionResponse,
  sessionRequest,
  type TenantPlanRequest,
  tenantPlanRequest,
  tierName,
  tokenId,
  type UnitPair,
} from "./wire-gateway.ts";
export type { MyRoom, RoomMember, RoomMode, RoomRole, RoomView, SealedRoomKey } from "./wire-rooms.ts";
export {
  RPC_ERROR_STATUS,
  RPC_METHOD_PATTERN,
  RPC_PROTOCOL,
  type RpcErrorBody,
  type RpcErrorCode,
  type RpcRequest,
  type RpcSuccessBody,
  rpcId,
  rpcMethodName,
  rpcRequest,
  type UsageUnits,
  usageUnits,
} from "./wire-rpc.ts";
