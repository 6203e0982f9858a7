import { toApiError } from "@conclave/http";
import { ApiError } from "@conclave/protocol";
import { StoreError } from "@conclave/store";

/**
 * Store failures in the wire's terms (SPEC §3): Unavailable → 503 with
 * Retry-After (the decision is denied, never allowed), Conflict → 409,
 * NotFound → 404. Other errors are left to the edge's handler, which logs
 * them in full and answers a generic 500.
 */
export function storeErrorToApi(err: StoreError): ApiError {
  switch (err.kind) {
    case "unavailable":
      return new ApiError("unavailable", "store unavailable, retry later", {
        headers: { "retry-after": "1" },
        cause: err,
      });
    case "conflict":
      return new ApiError("conflict", "changed concurrently; retry", { cause: err });
    case "not_found":
      return new ApiError("not_found", "not found", { cause: err });
  }
}

/** The answer an error will get, for deciding its audit outcome. */
export function answerOf(err: unknown): ApiError {
  return err instanceof StoreError ? storeErrorToApi(err) : toApiError(err);
}
