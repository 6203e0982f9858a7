import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, listen, type UploadResult, upload } from "../test-support/edge-test-kit.ts";
import { createEdge, type Edge, InflightLimiter, streamBody } from "./index.ts";

const MiB = 1024 * 1024;

describe("InflightLimiter", () => {
  it("sheds a reservation that does not fit under the cap", () => {
    const limiter = new InflightLimiter({ capBytes: 10 });
    expect(limiter.tryReserve(6)).toBeDefined();
    expect(limiter.tryReserve(5)).toBeUndefined();
    expect(limiter.tryReserve(4)).toBeDefined();
    expect(limiter.inFlightBytes()).toBe(10);
  });

  it("gives bytes back exactly once however often release is called", () => {
    const limiter = new InflightLimiter({ capBytes: 10 });
    const a = limiter.tryReserve(6);
    const b = limiter.tryReserve(3);
    a?.release();
    a?.release();
    a?.release();
    expect(limiter.inFlightBytes()).toBe(3);
    b?.release();
    expect(limiter.inFlightBytes()).toBe(0);
  });

  it("always admits a bodiless request, even at the cap", () => {
    const limiter = new InflightLimiter({ capBytes: 10 });
    limiter.tryReserve(10);
    expect(limiter.tryReserve(0)).toBeDefined();
  });

  it("when disabled, accounts but never sheds", () => {
    const limiter = new InflightLimiter({ capBytes: 10, enabled: false });
    limiter.tryReserve(8);
    expect(limiter.tryReserve(8)).toBeDefined();
    expect(limiter.inFlightBytes()).toBe(16);
    expect(limiter.peakInFlightBytes()).toBe(16);
  });

  it("refuses a cap that is not a positive integer", () => {
    expect(() => new InflightLimiter({ capBytes: 0 })).toThrow(/capBytes/);
  });
});

describe("the in-flight guard on a listening edge", () => {
  let edge: Edge | undefined;
  let openGate: () => void = () => {};
  afterEach(async () => {
    openGate();
    await edge?.app.close();
    edge = undefined;
  });

  // Cap of 4 MiB, 1 MiB blobs: at most four uploads in flight. The handler reads its
  // body and then waits on a gate, so admitted uploads stay in flight as long as the test wants.
  function gatedEdge(): { edge: Edge; open: () => void; handlerErrors: unknown[] } {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    openGate = open;
    const handlerErrors: unknown[] = [];
    const e = createEdge({
      service: "inflight-test",
      ready: async () => true,
      limits: { inflightBytes: 4 * MiB, blobBodyBytes: MiB, jsonBodyBytes: 64 * 1024 },
    });
    e.app.put("/blob", { config: { body: "stream" } }, async (request, reply) => {
      let size = 0;
      try {
        for await (const chunk of streamBody(request)) size += (chunk as Buffer).length;
      } catch (err) {
        handlerErrors.push(err);
        throw err;
      }
      await gate;
      return reply.code(201).send({ size });
    });
    return { edge: e, open, handlerErrors };
  }

  it("sheds concurrent uploads beyond the cap with 503 and Retry-After, then returns to 0", async () => {
    const gated = gatedEdge();
    edge = gated.edge;
    const port = await listen(edge);
    const results: UploadResult[] = [];
    const uploads = Array.from({ length: 10 }, () =>
      upload({ port, path: "/blob", totalBytes: MiB }).then((r) => results.push(r)),
    );
    // Six are shed while the four admitted ones are held at the gate.
    expect(await eventually(() => results.length === 6)).toBe(true);
    expect(edge.inflight.inFlightBytes()).toBe(4 * MiB);
    gated.open();
    await Promise.all(uploads);
    const shed = results.filter((r) => r.status === 503);
    expect(results.filter((r) => r.status === 201)).toHaveLength(4);
    expect(shed).toHaveLength(6);
    for (const r of shed) {
      expect(r.headers["retry-after"]).toBe("1");
      expect(JSON.parse(r.body)).toEqual({
        error: { code: "overloaded", message: "server busy, retry shortly", reason: "inflight_bytes" },
      });
    }
    expect(await eventually(() => edge?.inflight.inFlightBytes() === 0)).toBe(true);
  });

  it("reserves the route ceiling for a chunked body and the declared length otherwise", async () => {
    const gated = gatedEdge();
    edge = gated.edge;
    const port = await listen(edge);
    const chunked = upload({ port, path: "/blob", totalBytes: 1000, chunked: true });
    const declared = upload({ port, path: "/blob", totalBytes: 1000 });
    expect(await eventually(() => edge?.inflight.inFlightBytes() === MiB + 1000)).toBe(true);
    gated.open();
    expect((await chunked).status).toBe(201);
    expect((await declared).status).toBe(201);
    expect(await eventually(() => edge?.inflight.inFlightBytes() === 0)).toBe(true);
  });

  it("releases the reservation of a client that disconnects mid-upload; the next upload succeeds", async () => {
    const gated = gatedEdge();
    edge = gated.edge;
    gated.open();
    const port = await listen(edge);
    // Headers and a quarter of the body, then the client vanishes once the server holds the reservation.
    const socket = abortingClient(port);
    expect(await eventually(() => edge?.inflight.inFlightBytes() === MiB)).toBe(true);
    socket.destroy();
    expect(await eventually(() => edge?.inflight.inFlightBytes() === 0)).toBe(true);
    // The handler saw the truncation as an error, never as a clean end of a short blob.
    expect(await eventually(() => gated.handlerErrors.length === 1)).toBe(true);
    const next = await upload({ port, path: "/blob", totalBytes: MiB });
    expect(next.status).toBe(201);
    expect(JSON.parse(next.body)).toEqual({ size: MiB });
    expect(await eventually(() => edge?.inflight.inFlightBytes() === 0)).toBe(true);
  });

  it("keeps an exact balance while held, aborted and finished requests interleave", async () => {
    const gated = gatedEdge();
    edge = gated.edge;
    const port = await listen(edge);
    const held = Array.from({ length: 3 }, () => upload({ port, path: "/blob", totalBytes: MiB }));
    expect(await eventually(() => edge?.inflight.inFlightBytes() === 3 * MiB)).toBe(true);
    for (let i = 0; i < 3; i++) {
      const socket = abortingClient(port);
      expect(await eventually(() => edge?.inflight.inFlightBytes() === 4 * MiB)).toBe(true);
      socket.destroy();
      expect(await eventually(() => edge?.inflight.inFlightBytes() === 3 * MiB)).toBe(true);
    }
    gated.open();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([201, 201, 201]);
    expect(await eventually(() => edge?.inflight.inFlightBytes() === 0)).toBe(true);
    // Every release path (onResponse, onRequestAbort, 'close') has fired by now: still exactly 0.
    await new Promise((r) => setTimeout(r, 50));
    expect(edge.inflight.inFlightBytes()).toBe(0);
  });
});

/** Sends headers and a quarter of a 1 MiB body on a raw socket, to be destroyed by the test. */
function abortingClient(port: number): Socket {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(
    `PUT /blob HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: ${MiB}\r\n\r\n`,
  );
  socket.write(Buffer.alloc(MiB / 4));
  return socket;
}
