import { Writable } from "node:stream";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createEdge } from "./index.ts";

describe("health routes", () => {
  it("/healthz answers 200 whatever the dependencies say", async () => {
    const edge = createEdge({ service: "health-test", ready: async () => false });
    const res = await edge.app.inject({ url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
  });

  it("/readyz answers 200 when ready() resolves true", async () => {
    const edge = createEdge({ service: "health-test", ready: async () => true });
    const res = await edge.app.inject({ url: "/readyz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
  });

  it("/readyz answers 503 unavailable when ready() resolves false or throws", async () => {
    for (const ready of [async () => false, async () => Promise.reject(new Error("nats: connection refused"))]) {
      const edge = createEdge({ service: "health-test", ready });
      const res = await edge.app.inject({ url: "/readyz" });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: { code: "unavailable", message: "not ready" } });
    }
  });

  it("/readyz answers 503 within its timeout when ready() hangs", async () => {
    const edge = createEdge({ service: "health-test", ready: () => new Promise(() => {}), readyTimeoutMs: 100 });
    const started = Date.now();
    const res = await edge.app.inject({ url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("/readyz waits up to 2 s by default", async () => {
    const edge = createEdge({
      service: "health-test",
      ready: () => new Promise((resolve) => setTimeout(() => resolve(true), 1_500)),
    });
    expect((await edge.app.inject({ url: "/readyz" })).statusCode).toBe(200);
  });
});

describe("probe logging", () => {
  it("logs no request lines for /healthz, /readyz and /metrics, but still their warnings and other routes' lines", async () => {
    const lines: { msg: string; req?: { url: string }; level: number }[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = pino({ level: "info" }, sink);
    const edge = createEdge({ service: "health-test", ready: async () => Promise.reject(new Error("down")), logger });
    edge.app.get("/v1/ping", async () => ({ ok: true }));
    for (const url of ["/healthz", "/readyz", "/metrics", "/v1/ping"]) await edge.app.inject({ url });
    const requestLines = lines.filter((l) => l.msg === "incoming request" || l.msg === "request completed");
    expect(requestLines.map((l) => l.msg)).toEqual(["incoming request", "request completed"]);
    expect(lines.filter((l) => l.msg === "readiness check failed")).toHaveLength(1);
  });
});

describe("/metrics", () => {
  it("exposes the edge metrics in Prometheus text, labelled by route pattern, not raw URL", async () => {
    const registry = new Registry();
    const edge = createEdge({ service: "membership", ready: async () => true, registry });
    edge.app.get("/v1/rooms/:id", async () => ({ ok: true }));
    for (const id of ["a", "b", "c"]) await edge.app.inject({ url: `/v1/rooms/${id}?q=${id}` });
    await edge.app.inject({ url: "/v1/unknown/xyz" });
    const res = await edge.app.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe(registry.contentType);
    expect(res.body).toContain(
      'conclave_http_requests_total{service="membership",route="/v1/rooms/:id",method="GET",status_class="2xx",outcome="ok"} 3',
    );
    expect(res.body).toContain(
      'conclave_http_requests_total{service="membership",route="unmatched",method="GET",status_class="4xx",outcome="client_error"} 1',
    );
    expect(res.body).toContain(
      'conclave_http_request_duration_seconds_count{service="membership",route="/v1/rooms/:id",method="GET",status_class="2xx"} 3',
    );
    expect(res.body).toContain('conclave_http_inflight_bytes{service="membership"} 0');
    expect(res.body).toContain("# TYPE conclave_limiter_shed_total counter");
    expect(res.body).not.toMatch(/\/v1\/rooms\/a|xyz/);
  });

  it("lets two edges share one registry", () => {
    const registry = new Registry();
    createEdge({ service: "blob", ready: async () => true, registry });
    expect(() => createEdge({ service: "gateway", ready: async () => true, registry })).not.toThrow();
  });
});
