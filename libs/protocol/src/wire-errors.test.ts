import { describe, expect, it } from "vitest";
import { ApiError, overloadedError, unavailableError, WIRE_STATUS } from "./wire-errors.ts";

describe("wire error table", () => {
  it("maps every spec code to its HTTP status", () => {
    expect(WIRE_STATUS).toMatchObject({
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      bad_request: 400,
      budget_exceeded: 429,
      rate_limited: 429,
      overloaded: 503,
      unavailable: 503,
      internal_error: 500,
    });
  });

  it("serialises to the wire shape with an optional reason", () => {
    const err = new ApiError("unauthorized", "signature rejected", { reason: "expired" });
    expect(err.status).toBe(401);
    expect(err.toBody()).toEqual({ error: { code: "unauthorized", message: "signature rejected", reason: "expired" } });
  });

  it("answers that decided nothing tell the client when to retry, keeping the cause for the log", () => {
    const cause = new Error("KV_conclave_users: no responders");
    const down = unavailableError("the store is unavailable, retry later", cause);
    expect([down.status, down.headers, down.cause]).toEqual([503, { "retry-after": "1" }, cause]);
    expect(down.toBody()).toEqual({ error: { code: "unavailable", message: "the store is unavailable, retry later" } });
    const shed = overloadedError("server busy", { reason: "inflight_bytes" });
    expect([shed.code, shed.status, shed.headers, shed.reason]).toEqual([
      "overloaded",
      503,
      { "retry-after": "1" },
      "inflight_bytes",
    ]);
  });
});
