import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import type { Edge } from "../src/edge.ts";

// Test helpers for a real listening edge: clients that speak through a socket,
// because what a limiter does to a socket is the point of several tests.

export async function listen(edge: Edge): Promise<number> {
  await edge.app.listen({ host: "127.0.0.1", port: 0 });
  return (edge.app.server.address() as AddressInfo).port;
}

export interface UploadResult {
  /** undefined when the connection failed before any response arrived. */
  status: number | undefined;
  headers: IncomingHttpHeaders;
  body: string;
  error?: string;
}

export interface UploadOptions {
  port: number;
  path: string;
  totalBytes: number;
  /** Send without Content-Length (Transfer-Encoding: chunked). */
  chunked?: boolean;
  contentType?: string;
  method?: string;
  /** Destroy the socket after this many body bytes (a client that vanishes). */
  abortAfterBytes?: number;
  /**
   * Send the headers at once but hold the body until this settles: lets a test put
   * many requests in front of the server at the same moment.
   */
  holdBodyUntil?: Promise<void>;
}

// Data is generated as it is sent, from one reused chunk: uploads never hold their payload.
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/**
 * Streams `totalBytes` with backpressure; stops sending as soon as a response
 * arrives (as any sane client does on an early 413/503) and resolves with it.
 */
export function upload(options: UploadOptions): Promise<UploadResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { "content-type": options.contentType ?? "application/octet-stream" };
    if (!options.chunked) headers["content-length"] = String(options.totalBytes);
    const req = httpRequest({
      host: "127.0.0.1",
      port: options.port,
      method: options.method ?? "PUT",
      path: options.path,
      headers,
      agent: false,
    });
    let responded = false;
    let settled = false;
    const settle = (result: UploadResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on("response", (res) => {
      responded = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (text: string) => {
        body += text;
      });
      res.on("end", () => {
        settle({ status: res.statusCode, headers: res.headers, body });
        req.destroy();
      });
      res.on("error", () => settle({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", (err: Error & { code?: string }) => {
      if (!responded) settle({ status: undefined, headers: {}, body: "", error: err.code ?? err.message });
    });

    let sent = 0;
    const limit = options.abortAfterBytes ?? options.totalBytes;
    const pump = (): void => {
      while (sent < limit && !responded && !req.destroyed) {
        const n = Math.min(CHUNK.length, limit - sent);
        sent += n;
        if (!req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      if (responded || req.destroyed) return;
      if (options.abortAfterBytes !== undefined) {
        req.destroy();
        settle({ status: undefined, headers: {}, body: "", error: "aborted by test" });
      } else {
        req.end();
      }
    };
    if (options.holdBodyUntil) {
      req.flushHeaders();
      options.holdBodyUntil.then(pump);
    } else {
      pump();
    }
  });
}

/** Writes raw bytes on a fresh connection and collects everything until the server closes it. */
export function rawExchange(port: number, chunks: readonly (string | Buffer)[], gapMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setEncoding("latin1");
    socket.on("data", (text: string) => {
      received += text;
    });
    socket.on("close", () => resolve(received));
    socket.on("error", (err: Error & { code?: string }) => {
      // A reset after the answer was read still counts as an answer.
      if (received.length > 0 || err.code === "ECONNRESET") resolve(received);
      else reject(err);
    });
    socket.on("connect", async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

/** Polls until `probe` returns true or the timeout passes; returns the last value. */
export async function eventually(probe: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (probe()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return probe();
}
