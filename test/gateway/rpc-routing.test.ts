import { RpcHandlerError, type RpcServer, serveRpc } from "@conclave/rpc";
import { useCluster } from "@conclave/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { signedFetch } from "../support/signed-client.ts";
import {
  addUsers,
  bearerFetch,
  errorOf,
  type GatewayA,
  gatewayEnv,
  identity,
  openSession,
  rpc,
  type Session,
  startReplicaA,
} from "./gateway-fixture.ts";

describe("RPC routing over NATS request/reply", () => {
  const cluster = useCluster({ nodes: 1 });
  let a: GatewayA;
  let nc1: NatsConnection;
  let nc2: NatsConnection;
  const servers: RpcServer[] = [];
  const admin = identity("admin");
  const bot = identity("bot");
  const reader = identity("reader");
  const seen: { handler: number; tenant: string; subject: string; scopes: string[] }[] = [];
  let full: Session;
  let readOnly: Session;
  let empty: Session;

  beforeAll(async () => {
    a = await startReplicaA(cluster(), gatewayEnv());
    await addUsers(a, admin, [{ key: bot }, { key: reader, scopes: ["rpc:read"] }], true);
    nc1 = await connect(cluster().connectOptions("rpc"));
    nc2 = await connect(cluster().connectOptions("rpc"));
    for (const [i, nc] of [nc1, nc2].entries()) {
      servers.push(
        serveRpc(nc, {
          method: "echo.say",
          params: z.object({ text: z.string().max(100) }).strict(),
          handler: (call) => {
            seen.push({ handler: i, tenant: call.tenant, subject: call.subject, scopes: call.scopes });
            call.reportUsage({ input: 3, output: call.params.text.length });
            if (call.params.text === "boom") throw new Error("db password is hunter2");
            if (call.params.text === "bad") throw new RpcHandlerError("bad_request", "text must not be bad");
            return { echoed: call.params.text };
          },
        }),
      );
    }
    servers.push(
      serveRpc(nc1, { method: "notes.write", handler: () => ({ written: true }) }),
      serveRpc(nc1, {
        method: "slow.wait",
        handler: async () => {
          await new Promise((r) => setTimeout(r, 1_500));
          return "late";
        },
      }),
    );
    await nc1.flush();
    await nc2.flush();
    full = await openSession(a.host.url, bot);
    readOnly = await openSession(a.host.url, reader);
    empty = await openSession(a.host.url, bot, { scopes: [] });
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await nc1?.close();
    await nc2?.close();
    await a?.host.close();
  });

  const call = (token: string, body: unknown) => bearerFetch(a.host.url, token, "POST", "/v1/rpc", body);
  const expectRateHeaders = (res: { headers: Headers }) => {
    expect(res.headers.get("x-ratelimit-limit")).toMatch(/^\d+$/);
    expect(res.headers.get("x-ratelimit-remaining")).toMatch(/^\d+$/);
    expect(res.headers.get("x-ratelimit-reset")).toMatch(/^\d+$/);
  };

  it("routes a call to a handler with tenant, subject and scopes attached, and records its reported usage", async () => {
    const before = (await bearerFetch(a.host.url, full.token, "GET", "/v1/budget")).body as { used: { input: number } };
    const res = await call(full.token, rpc("echo.say", { text: "hello" }, "req-1"));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      protocol: "conclave.v1",
      id: "req-1",
      result: { echoed: "hello" },
      usage: { input: 3, output: 5 },
    });
    expectRateHeaders(res);
    expect(seen.at(-1)).toMatchObject({ tenant: "acme", subject: bot.signPublicKey, scopes: ["rpc:call", "rpc:read"] });
    const after = (await bearerFetch(a.host.url, full.token, "GET", "/v1/budget")).body as {
      used: { input: number; output: number };
      reserved: { input: number };
    };
    expect(after.used.input).toBe(before.used.input + 3);
    expect(after.reserved.input).toBe(0);
    // Signed requests route the same way.
    const signed = await signedFetch(a.host.url, bot, "POST", "/v1/rpc", rpc("echo.say", { text: "sig" }, 7));
    expect(signed.body).toMatchObject({ id: 7, result: { echoed: "sig" } });
  });

  it("spreads calls over the handlers of a queue group", async () => {
    const start = seen.length;
    await Promise.all(Array.from({ length: 30 }, (_, i) => call(full.token, rpc("echo.say", { text: `n${i}` }, i))));
    const handlers = new Set(seen.slice(start).map((s) => s.handler));
    expect(handlers).toEqual(new Set([0, 1]));
  });

  it("unknown methods and methods nobody serves are 404 method_not_found; the reservation is released", async () => {
    const unknown = await call(full.token, rpc("nobody.knows", {}, "u"));
    expect([unknown.status, errorOf(unknown.body).code]).toEqual([404, "method_not_found"]);
    expect(unknown.body).toMatchObject({ protocol: "conclave.v1", id: "u" });
    expectRateHeaders(unknown);
    const before = (await bearerFetch(a.host.url, full.token, "GET", "/v1/budget")).body as { used: unknown };
    const ghost = await call(full.token, rpc("ghost.call", {}, "g"));
    expect([ghost.status, errorOf(ghost.body).code, errorOf(ghost.body).reason]).toEqual([
      404,
      "method_not_found",
      "no_handler",
    ]);
    expectRateHeaders(ghost);
    const after = (await bearerFetch(a.host.url, full.token, "GET", "/v1/budget")).body as {
      used: unknown;
      reserved: unknown;
    };
    expect(after.used).toEqual(before.used);
    expect(after.reserved).toEqual({ input: 0, output: 0 });
  });

  it("a handler that does not answer in time is 504 upstream_timeout, charged at the estimate", async () => {
    const started = Date.now();
    const res = await call(full.token, rpc("slow.wait", {}, "s"));
    expect([res.status, errorOf(res.body).code]).toEqual([504, "upstream_timeout"]);
    expect(Date.now() - started).toBeLessThan(1_400);
    expectRateHeaders(res);
  });

  it("a failing handler is a generic 502; a failure it declares safe passes through; params are validated", async () => {
    const boom = await call(full.token, rpc("echo.say", { text: "boom" }));
    expect([boom.status, errorOf(boom.body).code]).toEqual([502, "bad_gateway"]);
    expect(JSON.stringify(boom.body)).not.toContain("hunter2");
    expectRateHeaders(boom);
    const bad = await call(full.token, rpc("echo.say", { text: "bad" }));
    expect([bad.status, errorOf(bad.body).code, errorOf(bad.body).message]).toEqual([
      400,
      "bad_request",
      "text must not be bad",
    ]);
    const invalid = await call(full.token, rpc("echo.say", { text: 5 }));
    expect([invalid.status, errorOf(invalid.body).message]).toEqual([400, expect.stringContaining("params.text")]);
  });

  it("an invalid envelope is a 400 naming the field, still with rate-limit headers", async () => {
    const cases: [unknown, string][] = [
      [{ ...rpc("echo.say"), protocol: "conclave.v0" }, "protocol"],
      [{ ...rpc("echo.say"), extra: 1 }, "envelope"],
      [rpc("../etc.passwd"), "method"],
      [rpc("echo"), "method"],
      [{ protocol: "conclave.v1", method: "echo.say" }, "id"],
    ];
    for (const [body, field] of cases) {
      const res = await call(full.token, body);
      expect([res.status, errorOf(res.body).code]).toEqual([400, "bad_request"]);
      if (field !== "envelope") expect(errorOf(res.body).message).toContain(field);
      expectRateHeaders(res);
    }
  });

  it("read-only scopes cannot call mutations; listings show only what the caller may call", async () => {
    const write = await call(readOnly.token, rpc("notes.write", {}, "w"));
    expect([write.status, errorOf(write.body).code, errorOf(write.body).reason]).toEqual([
      403,
      "forbidden",
      "insufficient_scope",
    ]);
    expectRateHeaders(write);
    const read = await call(readOnly.token, rpc("echo.say", { text: "ok" }));
    expect(read.status).toBe(200);
    expect((await call(full.token, rpc("notes.write", {}))).status).toBe(200);
    // A member's own signature carries the member's scopes: a read-only user cannot mutate by signing either.
    const signedWrite = await signedFetch(a.host.url, reader, "POST", "/v1/rpc", rpc("notes.write", {}));
    expect(signedWrite.status).toBe(403);

    const names = async (token: string) =>
      (
        (await bearerFetch(a.host.url, token, "GET", "/v1/rpc/methods")).body as { methods: { name: string }[] }
      ).methods.map((m) => m.name);
    expect(await names(full.token)).toEqual(["echo.say", "ghost.call", "llm.complete", "notes.write", "slow.wait"]);
    expect(await names(readOnly.token)).toEqual(["echo.say", "ghost.call", "slow.wait"]);
    expect(await names(empty.token)).toEqual([]);
    const viaRpc = await call(readOnly.token, rpc("rpc.methods", {}, "list"));
    expect((viaRpc.body as { result: { methods: { name: string }[] } }).result.methods.map((m) => m.name)).toEqual([
      "echo.say",
      "ghost.call",
      "slow.wait",
    ]);
    const none = await call(empty.token, rpc("echo.say", { text: "x" }));
    expect(none.status).toBe(403);
  });
});
