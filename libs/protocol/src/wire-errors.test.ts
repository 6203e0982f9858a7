import { describe, expect, it } from "vitest";
import { ApiError, WIRE_STATUS } from "./wire-errors.ts";

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
});
