import { ApiError, unavailableError } from "@conclave/protocol";
import type { StoreError } from "@conclave/store";

/**
 * THE mapping from the store's error taxonomy (libs/store errors.ts) to the wire: Unavailable → 503 with
 * Retry-After (nothing was decided: fail closed, the client may retry), Conflict → 409, NotFound → 404.
 * The store's messages name buckets, subjects and servers: they go to the log as the cause, never to the client.
 */
export function storeErrorToApi(err: StoreError): ApiError {
  switch (err.kind) {
    case "unavailable":
      return unavailableError("the store is unavailable, retry later", err);
    case "conflict":
      return new ApiError("conflict", "a concurrent change won, retry", { cause: err });
    case "not_found":
      return new ApiError("not_found", "not found", { cause: err });
  }
}
