export { publicKey32, role, scope, TENANT_PATTERN, tenantId } from "./identity.ts";
export { ApiError, isApiError, WIRE_STATUS, type WireCode, type WireErrorBody } from "./wire-errors.ts";
