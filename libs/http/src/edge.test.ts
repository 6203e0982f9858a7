import { ApiError } from "@conclave/protocol";
import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { listen, upload } from "../test-support/edge-test-kit.ts";
import { createEdge, rawJsonBody, streamBody } from "./index.ts";

// How a service plugs in: routes declare their body kind, authentication is a plain
// fastify preHandler added after createEdge, and it runs once the guards admitted
// the request and the body is available.

function serviceLikeEdge() {
  const edge = createEdge({
    service: "edge-test",
    ready: async () => true,
    limits: { jsonBodyBytes: 1024, blobBodyBytes: 4096, inflightBytes: 8192, perIp: { ratePerSecond: 1, burst: 2 } },
  });
  const seenByAuth: { url: string; raw: string | undefined; streamUnread: boolean }[] = [];
  const authenticate = async (request: FastifyRequest) => {
    if (request.routeOptions.url === undefined || request.routeOptions.url.startsWith("/healthz")) return;
    seenByAuth.push({
      url: request.url,
      raw: rawJsonBody(request)?.toString("utf8"),
      streamUnread: request.routeOptions.config.body === "stream" ? !streamBody(request).readableEnded : false,
    });
    if (request.headers.authorization !== "Signature ok") throw new ApiError("unauthorized", "bad signature");
  };
  edge.app.addHook("preHandler", authenticate);
  edge.app.post("/v1/rooms", async (request) => ({ body: request.body }));
  edge.app.put("/v1/blobs/:sha", { config: { body: "stream" } }, async (request, reply) => {
    let size = 0;
    for await (const chunk of streamBody(request)) size += (chunk as Buffer).length;
    return reply.code(201).send({ size });
  });
  return { edge, seenByAuth };
}

describe("the edge as services use it", () => {
  it("runs the authentication preHandler after the JSON body is parsed, with its raw bytes", async () => {
    const { edge, seenByAuth } = serviceLikeEdge();
    const ok = await edge.app.inject({
      method: "POST",
      url: "/v1/rooms",
      payload: '{"mode":"e2e"}',
      headers: { "content-type": "application/json", authorization: "Signature ok" },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ body: { mode: "e2e" } });
    expect(seenByAuth).toEqual([{ url: "/v1/rooms", raw: '{"mode":"e2e"}', streamUnread: false }]);
    const denied = await edge.app.inject({ method: "POST", url: "/v1/rooms", payload: { mode: "e2e" } });
    expect(denied.statusCode).toBe(401);
    expect(denied.json()).toEqual({ error: { code: "unauthorized", message: "bad signature" } });
  });

  it("hands a stream route's preHandler the unread body, and a refusal there closes the connection", async () => {
    const { edge, seenByAuth } = serviceLikeEdge();
    const port = await listen(edge);
    const denied = await upload({ port, path: "/v1/blobs/abc", totalBytes: 4096 });
    expect(denied.status).toBe(401);
    // The body was never read: the connection is closed instead of drained.
    expect(denied.headers.connection).toBe("close");
    expect(seenByAuth.at(-1)?.streamUnread).toBe(true);
    await edge.app.close();
  });

  it("never runs the preHandler for a request the guards refused", async () => {
    const { edge, seenByAuth } = serviceLikeEdge();
    const res = await edge.app.inject({
      method: "POST",
      url: "/v1/rooms",
      payload: "x".repeat(2048),
      headers: { "content-type": "application/json", authorization: "Signature ok" },
    });
    expect(res.statusCode).toBe(413);
    expect(seenByAuth).toEqual([]);
  });

  it("checks the per-IP bucket before the declared size, and the size before reserving", async () => {
    const { edge } = serviceLikeEdge();
    const oversized = () =>
      edge.app.inject({
        method: "PUT",
        url: "/v1/blobs/abc",
        remoteAddress: "198.51.100.4",
        payload: Buffer.alloc(5000),
        headers: { "content-type": "application/octet-stream" },
      });
    expect((await oversized()).statusCode).toBe(413);
    expect((await oversized()).statusCode).toBe(413);
    // Burst spent: the bucket answers first, before any size check.
    expect((await oversized()).statusCode).toBe(429);
    // Refused requests never held in-flight bytes.
    expect(edge.inflight.peakInFlightBytes()).toBe(0);
  });
});
