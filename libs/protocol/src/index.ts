export { botInboxPrefix, ROOM_SUBJECT } from "./dataplane.ts";
export {
  kexPublicKey,
  publicKey32,
  type Role,
  role,
  scope,
  signPublicKey,
  signPublicKeyRef,
  TENANT_PATTERN,
  tenantId,
} from "./identity.ts";
export { ownValue } from "./own-value.ts";
export { type NewUser, newUser, storedUser, type UserRecord, userRecord } from "./users.ts";
export { type Ed25519KeyProblem, ed25519EncodingProblem, ed25519KeyProblem, isLowOrderX25519 } from "./weak-keys.ts";
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
export {
  type CreateRoomRequest,
  createRoomRequest,
  type InviteRequest,
  inviteRequest,
  type MyRoom,
  type RekeyRequest,
  type RoomMember,
  type RoomMode,
  type RoomRole,
  type RoomView,
  rekeyRequest,
  roomId,
  roomMode,
  roomRole,
  type SealedRoomKey,
  sealedKey,
} from "./wire-rooms.ts";
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
