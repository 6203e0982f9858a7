import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen, rawExchange } from "../test-support/edge-test-kit.ts";
import { createEdge, type Edge, streamBody } from "./index.ts";

// What the edge does at the socket, before fastify has a request: header ceiling,
// slow senders, and when the body is invited with 100 Continue.

const KiB = 1024;
const BLOB_CEILING = 64 * KiB;

describe("socket-level guards", () => {
  let edge: Edge;
  let port: number;

  beforeAll(async () => {
    edge = createEdge({
      service: "socket-test",
      ready: async () => true,
      limits: { blobBodyBytes: BLOB_CEILING, maxHeaderBytes: 4 * KiB },
    });
    edge.app.put("/v1/blobs/:sha", { config: { body: "stream" } }, async (request, reply) => {
      let size = 0;
      for await (const chunk of streamBody(request)) size += (chunk as Buffer).length;
      return reply.code(201).send({ size });
    });
    port = await listen(edge);
  });
  afterAll(async () => {
    await edge.app.close();
  });

  it("never invites the body of a refused request with 100 Continue", async () => {
    const refused = await rawExchange(port, [
      `PUT /v1/blobs/abc HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-type: application/octet-stream\r\ncontent-length: ${BLOB_CEILING + 1}\r\n\r\n`,
    ]);
    expect(refused).toMatch(/^HTTP\/1.1 413 /);
    expect(refused).not.toContain("100 Continue");
  });

  it("sends 100 Continue to an admitted request before reading its body", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      let received = "";
      const socket = connect(port, "127.0.0.1");
      socket.setEncoding("latin1");
      socket.on("error", reject);
      socket.on("data", (text: string) => {
        received += text;
        // The body goes out only once the server asked for it.
        if (received.includes("100 Continue") && !received.includes("201")) socket.write("0123456789");
        if (received.includes('{"size":10}')) {
          socket.destroy();
          resolve(received);
        }
      });
      socket.write(
        "PUT /v1/blobs/abc HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-type: application/octet-stream\r\ncontent-length: 10\r\n\r\n",
      );
    });
    expect(answer).toMatch(/^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 201 /);
  });

  it("answers headers over the header ceiling with a wire-shaped 400 and closes", async () => {
    const answer = await rawExchange(port, [
      `GET /healthz HTTP/1.1\r\nhost: x\r\nx-pad: ${"a".repeat(8 * KiB)}\r\n\r\n`,
    ]);
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
    expect(answer).toContain('{"error":{"code":"bad_request","message":"request headers too large"}}');
  });
});

describe("slow clients", () => {
  it("closes a connection whose headers do not arrive within the headers timeout (slowloris)", async () => {
    const edge = createEdge({
      service: "slowloris-test",
      ready: async () => true,
      limits: { headersTimeoutMs: 300, requestTimeoutMs: 1_000 },
    });
    const port = await listen(edge);
    const started = Date.now();
    // One header line every 100 ms, never the blank line that ends them.
    const lines = ["GET /healthz HTTP/1.1\r\n", ...Array.from({ length: 40 }, (_, i) => `x-drip-${i}: 1\r\n`)];
    const answer = await rawExchange(port, lines, 100);
    const elapsed = Date.now() - started;
    await edge.app.close();
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
    expect(answer).toContain("request not received in time");
    expect(elapsed).toBeLessThan(2_000);
  });
});
