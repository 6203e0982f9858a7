import { describe, expect, it } from "vitest";
import { createEdge } from "./index.ts";

describe("edge options", () => {
  it("fails fast naming the bad field", () => {
    expect(() => createEdge({ service: "x", ready: async () => true, limits: { perIp: { burst: -1 } } })).toThrow(
      /limits\.perIp\.burst/,
    );
    expect(() => createEdge({ service: "Bad Name", ready: async () => true })).toThrow(/service/);
    expect(() =>
      createEdge({ service: "x", ready: async () => true, limits: { blobBodyBytes: 256 * 1024 * 1024 } }),
    ).toThrow(/limits\.inflightBytes: body ceilings must not exceed the in-flight cap/);
    expect(() => createEdge({ service: "x", ready: async () => true, limits: { headersTimeoutMs: 90_000 } })).toThrow(
      /limits\.headersTimeoutMs/,
    );
  });

  it("fills the documented defaults", () => {
    const { limits } = createEdge({ service: "x", ready: async () => true });
    expect(limits).toEqual({
      jsonBodyBytes: 1024 * 1024,
      blobBodyBytes: 16 * 1024 * 1024,
      inflightBytes: 128 * 1024 * 1024,
      perIp: { ratePerSecond: 50, burst: 100, maxTrackedIps: 100_000 },
      maxHeaderBytes: 16 * 1024,
      maxParamLength: 128,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 5_000,
    });
  });

  it("applies the timeouts to the Node server (the header ceiling is proven in body-limits.test.ts)", () => {
    const { app } = createEdge({ service: "x", ready: async () => true });
    expect(app.server.headersTimeout).toBe(10_000);
    expect(app.server.requestTimeout).toBe(60_000);
    expect(app.server.keepAliveTimeout).toBe(5_000);
  });
});
