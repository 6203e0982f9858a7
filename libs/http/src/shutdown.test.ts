import { describe, expect, it } from "vitest";
import { listen } from "../test-support/edge-test-kit.ts";
import { createEdge } from "./index.ts";

describe("graceful shutdown", () => {
  it("reports unready while draining, finishes the request in flight, then closes", async () => {
    const edge = createEdge({ service: "shutdown-test", ready: async () => true });
    let release: () => void = () => {};
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => {};
    const handlerEntered = new Promise<void>((resolve) => {
      entered = resolve;
    });
    edge.app.get("/v1/slow", async () => {
      entered();
      await slow;
      return { done: true };
    });
    const port = await listen(edge);
    const inFlight = fetch(`http://127.0.0.1:${port}/v1/slow`);
    await handlerEntered;

    const closing = edge.shutdown({ graceMs: 50, deadlineMs: 5_000 });
    expect(edge.isDraining()).toBe(true);
    const readyz = await edge.app.inject({ url: "/readyz" });
    expect(readyz.statusCode).toBe(503);
    expect(readyz.json()).toEqual({ error: { code: "unavailable", message: "shutting down" } });

    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    const report = await closing;
    expect(report.forced).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it("cuts requests still running at the deadline", async () => {
    const edge = createEdge({ service: "shutdown-test", ready: async () => true });
    let entered: () => void = () => {};
    const handlerEntered = new Promise<void>((r) => {
      entered = r;
    });
    edge.app.get("/v1/stuck", () => {
      entered();
      return new Promise(() => {});
    });
    const port = await listen(edge);
    const stuck = fetch(`http://127.0.0.1:${port}/v1/stuck`).catch((err: Error) => err);
    // Still running at the deadline only if it has arrived (a fixed wait is not enough under load).
    await handlerEntered;
    const started = Date.now();
    const report = await edge.shutdown({ deadlineMs: 200 });
    expect(report.forced).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await stuck).toBeInstanceOf(Error);
  });
});
