export { publicKey32, role, scope, TENANT_PATTERN, tenantId } from "./identity.ts";
export { type NewUser, newUser, type UserRecord, userRecord } from "./users.ts";
export { ApiError, isApiError, WIRE_STATUS, type WireCode, type WireErrorBody } from "./wire-errors.ts";
