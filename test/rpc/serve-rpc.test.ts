import { RpcHandlerError, requestRpc, rpcSubject, serveRpc } from "@conclave/rpc";
import { useCluster } from "@conclave/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const caller = { tenant: "acme", subject: "S".repeat(43), scopes: ["rpc:call"], requestId: "r1" };

describe("serveRpc and requestRpc against nats-server", () => {
  const cluster = useCluster({ nodes: 1 });
  // Handlers take calls as the rpc user; calls are sent as the gateway, the only user that may send them.
  let nc: NatsConnection;
  let gw: NatsConnection;

  beforeAll(async () => {
    nc = await connect(cluster().connectOptions("rpc"));
    gw = await connect(cluster().connectOptions("gateway"));
  });
  afterAll(async () => {
    await nc?.close();
    await gw?.close();
  });

  it("a call carries who is calling and comes back with the result and reported usage", async () => {
    const server = serveRpc(nc, {
      method: "math.add",
      params: z.object({ a: z.number(), b: z.number() }),
      handler: (call) => {
        call.reportUsage({ input: 2, output: 1 });
        return { sum: call.params.a + call.params.b, tenant: call.tenant, subject: call.subject, scopes: call.scopes };
      },
    });
    try {
      const out = await requestRpc(gw, "math.add", { a: 2, b: 3 }, caller, 1_000);
      expect(out).toEqual({
        kind: "result",
        result: { sum: 5, tenant: "acme", subject: caller.subject, scopes: ["rpc:call"] },
        usage: { input: 2, output: 1 },
      });
      const invalid = await requestRpc(gw, "math.add", { a: "x" }, caller, 1_000);
      expect(invalid).toMatchObject({
        kind: "handler_error",
        code: "bad_request",
        message: expect.stringContaining("params.a"),
      });
    } finally {
      await server.stop();
    }
  });

  it("every other ending is its own outcome: declared errors, hidden failures, no handler, timeout, bad replies", async () => {
    const errors: unknown[] = [];
    const servers = [
      serveRpc(nc, {
        method: "fail.declared",
        handler: () => {
          throw new RpcHandlerError("conflict", "already done");
        },
      }),
      serveRpc(nc, {
        method: "fail.hidden",
        handler: () => {
          throw new Error("secret detail");
        },
        onError: (err) => errors.push(err),
      }),
      serveRpc(nc, {
        method: "fail.slow",
        handler: async (call) => {
          await new Promise((r) => setTimeout(r, 300));
          return call.signal.aborted ? "aborted" : "late";
        },
      }),
    ];
    const junk = nc.subscribe(rpcSubject("fail.junk"), {
      callback: (_e, m) => {
        m.respond("not json");
      },
    });
    const odd = nc.subscribe(rpcSubject("fail.odd"), {
      callback: (_e, m) => {
        m.respond(JSON.stringify({ result: 1, x: 2 }));
      },
    });
    await nc.flush();
    try {
      expect(await requestRpc(gw, "fail.declared", {}, caller, 1_000)).toEqual({
        kind: "handler_error",
        code: "conflict",
        message: "already done",
        usage: undefined,
      });
      const hidden = await requestRpc(gw, "fail.hidden", {}, caller, 1_000);
      expect(hidden).toEqual({ kind: "handler_error", code: "internal", message: "handler failed", usage: undefined });
      expect(errors).toHaveLength(1);
      expect(await requestRpc(gw, "nobody.home", {}, caller, 1_000)).toEqual({ kind: "no_handler" });
      expect(await requestRpc(gw, "fail.slow", {}, caller, 100)).toEqual({ kind: "timeout" });
      expect(await requestRpc(gw, "fail.junk", {}, caller, 1_000)).toMatchObject({ kind: "bad_reply" });
      expect(await requestRpc(gw, "fail.odd", {}, caller, 1_000)).toMatchObject({ kind: "bad_reply" });
    } finally {
      for (const s of servers) await s.stop();
      junk.unsubscribe();
      odd.unsubscribe();
    }
  });

  it("stop() lets calls in progress finish and answer", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered: () => void = () => {};
    const handlerEntered = new Promise<void>((r) => {
      entered = r;
    });
    const server = serveRpc(nc, {
      method: "work.drain",
      handler: async () => {
        entered();
        await gate;
        return "finished";
      },
    });
    await nc.flush();
    const pending = requestRpc(gw, "work.drain", {}, caller, 2_000);
    // The call must be in progress when stop() runs (a fixed 50 ms wait is not enough under load).
    await handlerEntered;
    const stopped = server.stop();
    release();
    expect(await pending).toMatchObject({ kind: "result", result: "finished" });
    await stopped;
    expect(await requestRpc(gw, "work.drain", {}, caller, 500)).toEqual({ kind: "no_handler" });
  });
});
