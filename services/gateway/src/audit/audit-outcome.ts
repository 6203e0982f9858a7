import type { ApiError, AuditOutcome } from "@conclave/protocol";

// Which audit outcome a response gets when no stage named one explicitly.

/** From the error a request ended with (after store errors were mapped to the wire). */
export function outcomeOfError(err: ApiError): AuditOutcome {
  switch (err.code) {
    case "unauthorized":
      return "auth_denied";
    case "forbidden":
      return err.reason === "insufficient_scope" ? "insufficient_scope" : "forbidden";
    case "not_found":
    case "method_not_found":
      return "not_found";
    case "bad_gateway":
      return "upstream_error";
    case "upstream_timeout":
      return "upstream_timeout";
    case "bad_request":
    case "payload_too_large":
    case "range_not_satisfiable":
      return "invalid_request";
    case "conflict":
      return "conflict";
    case "rate_limited":
      return "rate_limited";
    case "budget_exceeded":
      return "budget_exceeded";
    case "overloaded":
    case "unavailable":
      return "unavailable";
    case "internal_error":
      return "internal_error";
  }
}

/** From the status alone (responses sent without an error, e.g. by a route itself). */
export function outcomeOfStatus(status: number): AuditOutcome {
  if (status < 400) return "ok";
  if (status === 401) return "auth_denied";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status === 502) return "upstream_error";
  if (status === 504) return "upstream_timeout";
  if (status === 503) return "unavailable";
  if (status >= 500) return "internal_error";
  return "invalid_request";
}
