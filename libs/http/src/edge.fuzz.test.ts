import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen } from "../test-support/edge-test-kit.ts";
import { createEdge, type Edge, streamBody } from "./index.ts";

// Whatever a client sends — header names and values, paths, methods, bodies — the
// edge itself never answers 5xx: every refusal is a wire-shaped 4xx.

const INTERESTING_HEADERS = [
  "content-length",
  "transfer-encoding",
  "content-type",
  "x-request-id",
  "expect",
  "x-forwarded-for",
  "accept-version",
  "connection",
  "host",
];

const headerName = fc.oneof(fc.constantFrom(...INTERESTING_HEADERS), fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/));
const headerValue = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.stringMatching(/^[0-9]{0,18}$/),
  fc.constantFrom("chunked", "application/json", "application/octet-stream", "text/plain", "100-continue", "1.0.0"),
);
const path = fc.oneof(
  fc.webPath().map((p) => (p.startsWith("/") ? p : `/${p}`)),
  fc.string({ maxLength: 60 }).map((s) => `/${s}`),
  fc
    .constantFrom("/v1/things", "/v1/blobs/", "/healthz", "/readyz", "/metrics")
    .chain((p) => fc.string({ maxLength: 200 }).map((s) => p + encodeURIComponent(s))),
  fc.constantFrom("/%", "/%zz", "/v1/blobs/%E0%A4%A", "//", "/../..", "/v1/things?a[b]=1&a[b]=2"),
);
const method = fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS");

describe("the edge under arbitrary input", () => {
  let edge: Edge;
  let port: number;

  beforeAll(async () => {
    edge = createEdge({
      service: "fuzz-test",
      ready: async () => true,
      limits: {
        jsonBodyBytes: 4096,
        blobBodyBytes: 8192,
        inflightBytes: 1024 * 1024,
        perIp: { burst: 1e6, ratePerSecond: 1e6 },
      },
    });
    edge.app.post("/v1/things", async (request) => ({ type: typeof request.body }));
    edge.app.put("/v1/blobs/:sha", { config: { body: "stream" } }, async (request, reply) => {
      let size = 0;
      for await (const chunk of streamBody(request)) size += (chunk as Buffer).length;
      return reply.code(201).send({ size });
    });
    edge.app.get("/v1/things/:id", { config: { body: "none" } }, async (request) => request.params);
    port = await listen(edge);
  });
  afterAll(async () => {
    await edge.app.close();
  });

  it("never answers 5xx to injected requests, and always in the wire shape", async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        path,
        fc.dictionary(headerName, headerValue, { maxKeys: 6 }),
        fc.option(fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 10_000 }))),
        async (m, url, headers, body) => {
          const res = await edge.app
            .inject({
              method: m,
              url,
              headers,
              ...(body === null ? {} : { payload: typeof body === "string" ? body : Buffer.from(body) }),
            })
            .catch((err: Error & { code?: string }) => {
              // light-my-request cannot build some URLs (e.g. "/\\"): the raw-socket property covers those.
              if (err.code === "ERR_INVALID_URL") return undefined;
              throw err;
            });
          if (res === undefined) return;
          expect(res.statusCode).toBeLessThan(500);
          expect(res.headers["x-request-id"]).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
          if (res.statusCode >= 400 && m !== "HEAD") {
            expect(Object.keys(res.json())).toEqual(["error"]);
            expect(typeof res.json().error.code).toBe("string");
          }
        },
      ),
      { numRuns: 1000 },
    );
    expect(edge.inflight.inFlightBytes()).toBe(0);
  });

  it("never answers 5xx to raw requests on the socket", async () => {
    const headerLine = fc.tuple(headerName, fc.stringMatching(/^[\x20-\x7e]{0,60}$/)).map(([n, v]) => `${n}: ${v}`);
    await fc.assert(
      fc.asyncProperty(
        method,
        fc.stringMatching(/^\/[\x21-\x7e]{0,80}$/),
        fc.array(headerLine, { maxLength: 6 }),
        fc.string({ unit: "binary-ascii", maxLength: 100 }),
        async (m, target, lines, body) => {
          const answer = await exchange(
            port,
            `${m} ${target} HTTP/1.1\r\nhost: x\r\n${lines.join("\r\n")}\r\n\r\n${body}`,
          );
          const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((s) => Number(s[1]));
          for (const status of statuses) expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
    expect(edge.inflight.inFlightBytes()).toBe(0);
  });
});

/** Writes one request, half-closes, and collects the answer (or nothing) until the server closes. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => socket.destroy(), 3_000);
    socket.setEncoding("latin1");
    socket.on("data", (text: string) => {
      received += text;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.end(request, "latin1");
  });
}
