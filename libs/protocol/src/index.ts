export { ApiError, isApiError, WIRE_STATUS, type WireCode, type WireErrorBody } from "./wire-errors.ts";
