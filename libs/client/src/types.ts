// The wire shapes the SDK reads and sends are the protocol's (libs/protocol), defined once for server and SDK.
export type {
  AuditPage,
  BlobRef,
  BudgetView,
  MyRoom,
  RevocationResult,
  RoomMember,
  RoomRole,
  RoomView,
  RpcErrorBody,
  RpcSuccessBody,
  SealedRoomKey,
  SessionRequest,
  SessionResponse,
  TenantPlanRequest,
  UserRecord,
} from "@conclave/protocol";
