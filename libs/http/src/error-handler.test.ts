import { ApiError } from "@conclave/protocol";
import { ConflictError, UnavailableError } from "@conclave/store";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createEdge, type Edge, rawJsonBody } from "./index.ts";

function edgeWithRoutes(): { edge: Edge; logged: string[] } {
  const logged: string[] = [];
  // A logger that records lines, to check the detail goes to the log and not to the client.
  const sink = {
    write(line: string) {
      logged.push(line);
    },
  };
  const logger = pino({ level: "info" }, sink);
  const edge = createEdge({ service: "errors-test", ready: async () => true, logger });
  edge.app.get("/v1/boom", async () => {
    throw new Error("ECONNREFUSED nats://10.1.2.3:4222 /var/lib/conclave/secret");
  });
  edge.app.get("/v1/busy", async () => {
    throw new ApiError("unavailable", "store did not answer", { headers: { "retry-after": "2" } });
  });
  edge.app.get("/v1/store-down", async () => {
    throw new UnavailableError("write conclave_rooms: no answer within 2000 ms (nats://10.0.0.9)");
  });
  edge.app.get("/v1/store-conflict", async () => {
    throw new ConflictError("KV_conclave_rooms wrong last sequence");
  });
  edge.app.get("/v1/forbidden", async () => {
    throw new ApiError("forbidden", "only owners may do this", { reason: "not_owner" });
  });
  const roomSchema = z.strictObject({
    mode: z.enum(["e2e", "clear"]),
    members: z.array(z.object({ role: z.string() })),
  });
  edge.app.post("/v1/rooms", async (request) => roomSchema.parse(request.body));
  edge.app.post(
    "/v1/users",
    {
      schema: {
        body: {
          type: "object",
          required: ["sign_pub"],
          properties: {
            sign_pub: { type: "string" },
            profile: { type: "object", properties: { age: { type: "integer" } } },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => ({ raw: rawJsonBody(request)?.toString("utf8") }),
  );
  return { edge, logged };
}

describe("the error handler", () => {
  it("answers an unknown error with a generic 500 and logs the detail with the request id", async () => {
    const { edge, logged } = edgeWithRoutes();
    const res = await edge.app.inject({ url: "/v1/boom", headers: { "x-request-id": "trace-123" } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: "internal_error", message: "internal error" } });
    expect(res.body).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|secret|at /);
    expect(res.headers["x-request-id"]).toBe("trace-123");
    const line = logged.map((l) => JSON.parse(l)).find((l) => l.msg === "request failed");
    expect(line.reqId).toBe("trace-123");
    expect(line.err.message).toContain("ECONNREFUSED");
    expect(line.err.stack).toBeDefined();
  });

  it("answers an ApiError with its mapped status, body and headers", async () => {
    const { edge } = edgeWithRoutes();
    const busy = await edge.app.inject({ url: "/v1/busy" });
    expect(busy.statusCode).toBe(503);
    expect(busy.headers["retry-after"]).toBe("2");
    expect(busy.json()).toEqual({ error: { code: "unavailable", message: "store did not answer" } });
    const forbidden = await edge.app.inject({ url: "/v1/forbidden" });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toEqual({
      error: { code: "forbidden", message: "only owners may do this", reason: "not_owner" },
    });
  });

  it("answers a store failure raised in a handler with 503 + Retry-After (fail closed), a lost race with 409, no detail leaked", async () => {
    const { edge, logged } = edgeWithRoutes();
    const down = await edge.app.inject({ url: "/v1/store-down" });
    expect(down.statusCode).toBe(503);
    expect(down.headers["retry-after"]).toBe("1");
    expect(down.json()).toEqual({ error: { code: "unavailable", message: "the store is unavailable, retry later" } });
    expect(down.body).not.toMatch(/conclave_rooms|10\.0\.0\.9/);
    // The detail goes to the operators' log instead.
    const warned = logged.map((l) => JSON.parse(l)).find((l) => l.msg === "request refused: dependency unavailable");
    expect(warned?.err?.message).toContain("10.0.0.9");
    const conflict = await edge.app.inject({ url: "/v1/store-conflict" });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.body).not.toContain("KV_");
  });

  it("answers a zod error with 400 naming the path of the first issue", async () => {
    const { edge } = edgeWithRoutes();
    const res = await edge.app.inject({
      method: "POST",
      url: "/v1/rooms",
      payload: { mode: "e2e", members: [{ role: "admin" }, { role: 7 }] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("bad_request");
    expect(res.json().error.message).toMatch(/^invalid members\.1\.role: /);
    const unknown = await edge.app.inject({
      method: "POST",
      url: "/v1/rooms",
      payload: { mode: "e2e", members: [], x: 1 },
    });
    expect(unknown.statusCode).toBe(400);
  });

  it("answers a fastify schema error with 400 naming the field", async () => {
    const { edge } = edgeWithRoutes();
    const missing = await edge.app.inject({ method: "POST", url: "/v1/users", payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toMatch(/^invalid body\.sign_pub: /);
    const nested = await edge.app.inject({
      method: "POST",
      url: "/v1/users",
      payload: { sign_pub: "k", profile: { age: "old" } },
    });
    expect(nested.json().error.message).toMatch(/^invalid body\.profile\.age: /);
    const extra = await edge.app.inject({ method: "POST", url: "/v1/users", payload: { sign_pub: "k", admin: true } });
    expect(extra.json().error.message).toMatch(/^invalid body\.admin: /);
  });

  it("keeps the exact JSON bytes for a later Content-Digest check", async () => {
    const { edge } = edgeWithRoutes();
    const payload = '{ "sign_pub" : "k" }';
    const res = await edge.app.inject({
      method: "POST",
      url: "/v1/users",
      payload,
      headers: { "content-type": "application/json" },
    });
    expect(res.json()).toEqual({ raw: payload });
  });

  it("answers malformed JSON with 400 without echoing the input", async () => {
    const { edge } = edgeWithRoutes();
    for (const payload of ['{"sign_pub": "<script>', "", '{"__proto__": {"admin": true}}']) {
      const res = await edge.app.inject({
        method: "POST",
        url: "/v1/users",
        payload,
        headers: { "content-type": "application/json" },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toBe("request body is not valid JSON");
    }
  });

  it("answers an unknown route with a wire-shaped 404", async () => {
    const { edge } = edgeWithRoutes();
    const res = await edge.app.inject({ url: "/v1/nothing/here?x=1" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: "not_found", message: "no such route" } });
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a malformed path with a wire-shaped 400 that still carries a request id", async () => {
    const { edge } = edgeWithRoutes();
    const res = await edge.app.inject({ url: "/v1/rooms/%E0%A4%A" });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: "bad_request", message: "malformed request path" } });
    expect(res.headers["x-request-id"]).toBeDefined();
  });
});

describe("request ids", () => {
  it("echoes a sane incoming x-request-id", async () => {
    const { edge } = edgeWithRoutes();
    const res = await edge.app.inject({ url: "/healthz", headers: { "x-request-id": "abc_DEF-123" } });
    expect(res.headers["x-request-id"]).toBe("abc_DEF-123");
  });

  it("replaces an unsafe or oversized x-request-id with a fresh UUID", async () => {
    const { edge } = edgeWithRoutes();
    for (const bad of ["a b", "x".repeat(65), "id\r\nset-cookie: a=b", "../../etc", ""]) {
      const res = await edge.app.inject({ url: "/healthz", headers: { "x-request-id": bad } });
      expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it("gives two requests without an id two different ids", async () => {
    const { edge } = edgeWithRoutes();
    const a = await edge.app.inject({ url: "/healthz" });
    const b = await edge.app.inject({ url: "/healthz" });
    expect(a.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
  });
});
