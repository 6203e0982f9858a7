import { describe, expect, it } from "vitest";
import { ConflictError, toStoreError, UnavailableError } from "./errors.ts";

const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name }, extra);

describe("toStoreError", () => {
  it.each([10071, 10164])("a lost CAS race with err_code %i is a Conflict", (code) => {
    expect(toStoreError(named("JetStreamApiError", { code, status: 400 }), "x")).toBeInstanceOf(ConflictError);
  });

  it.each([
    named("TimeoutError"),
    named("NoRespondersError"),
    named("RequestError"),
    named("JetStreamNotEnabled"),
    named("ClosedConnectionError"),
    named("JetStreamApiError", { code: 10008, status: 503 }),
    named("StreamNotFoundError", { code: 10059, status: 404 }),
    // "duplicate message id is in process": a retry while the original is still being applied.
    named("JetStreamApiError", { code: 10158, status: 409 }),
  ])("quorum-loss shape %s is Unavailable", (err) => {
    expect(toStoreError(err, "x")).toBeInstanceOf(UnavailableError);
  });

  it("an error nobody recognises is Unavailable (deny), keeping the cause", () => {
    const cause = new TypeError("boom");
    const mapped = toStoreError(cause, "x");
    expect(mapped).toBeInstanceOf(UnavailableError);
    expect(mapped.cause).toBe(cause);
  });
});
