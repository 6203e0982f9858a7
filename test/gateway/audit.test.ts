import { createPrivateKey, sign } from "node:crypto";
import { fromBase64url, privateKeyObject } from "@conclave/auth";
import { UNATTRIBUTED } from "@conclave/gateway";
import type { AuditPage } from "@conclave/protocol";
import { type RpcServer, serveRpc } from "@conclave/rpc";
import { STREAMS, SUBJECTS } from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedFetch } from "../support/signed-client.ts";
import {
  addUsers,
  bearerFetch,
  type GatewayA,
  gatewayEnv,
  identity,
  openSession,
  rpc,
  startReplicaA,
} from "./gateway-fixture.ts";

describe("the audit trail: every decision, outcomes kept apart, paged per tenant", () => {
  const cluster = useCluster({ nodes: 1 });
  const env = gatewayEnv({
    CONCLAVE_GATEWAY_TIERS: JSON.stringify({ test: 100_000, tiny: 2 }),
    CONCLAVE_GATEWAY_TENANT_TIERS: "throttled=tiny",
  });
  let a: GatewayA;
  let nc: NatsConnection;
  let servers: RpcServer[] = [];
  const admin = identity("admin");
  const bot = identity("bot", "audited");
  const reader = identity("reader", "audited");
  const outsider = identity("outsider", "elsewhere");
  const throttled = identity("throttled", "throttled");

  beforeAll(async () => {
    a = await startReplicaA(cluster(), env);
    await addUsers(
      a,
      admin,
      [{ key: bot }, { key: reader, scopes: ["rpc:read"] }, { key: outsider }, { key: throttled }],
      true,
    );
    nc = await connect(cluster().connectOptions("rpc"));
    servers = [
      serveRpc(nc, { method: "echo.say", handler: (c) => c.params }),
      serveRpc(nc, {
        method: "notes.write",
        handler: () => {
          throw new Error("disk on fire");
        },
      }),
    ];
    await nc.flush();
    await signedFetch(a.host.url, admin, "PUT", "/v1/tenants/audited/budget", { input: 50, output: 50 });
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await nc?.close();
    await a?.host.close();
  });

  const page = async (who: typeof bot, query: string) => {
    const res = await signedFetch(a.host.url, who, "GET", `/v1/audit${query}`);
    return { status: res.status, page: res.body as AuditPage };
  };

  it("each decision leaves a record with its own outcome, the method, tenant and subject", async () => {
    const full = await openSession(a.host.url, bot);
    const readOnly = await openSession(a.host.url, reader);
    expect((await bearerFetch(a.host.url, full.token, "POST", "/v1/rpc", rpc("echo.say", { x: 1 }))).status).toBe(200);
    expect((await bearerFetch(a.host.url, readOnly.token, "POST", "/v1/rpc", rpc("notes.write"))).status).toBe(403);
    expect((await bearerFetch(a.host.url, full.token, "POST", "/v1/rpc", rpc("llm.complete"))).status).toBe(429);
    expect((await bearerFetch(a.host.url, full.token, "POST", "/v1/rpc", rpc("notes.write"))).status).toBe(502);
    expect((await bearerFetch(a.host.url, full.token, "POST", "/v1/rpc", rpc("nope.nothing"))).status).toBe(404);
    expect((await bearerFetch(a.host.url, full.token, "POST", "/v1/rpc", rpc("ghost.call"))).status).toBe(404);
    // A token that verifies but has expired: the tenant is known, the request is denied.
    const key = privateKeyObject(fromBase64url(env.CONCLAVE_GATEWAY_JWT_KEY ?? "") as Uint8Array);
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const data = `${b64({ alg: "EdDSA", typ: "JWT", kid: a.handles.keys.kid })}.${b64({
      iss: "conclave",
      sub: bot.signPublicKey,
      tenant: "audited",
      scopes: [],
      jti: "expired-token-000000",
      iat: now - 100,
      exp: now - 10,
    })}`;
    const expired = `${data}.${sign(null, Buffer.from(data), createPrivateKey(key.export({ format: "pem", type: "pkcs8" }))).toString("base64url")}`;
    expect((await bearerFetch(a.host.url, expired, "GET", "/v1/budget")).status).toBe(401);
    const revoked = await openSession(a.host.url, bot);
    await signedFetch(a.host.url, bot, "POST", `/v1/tokens/${revoked.jti}/revoke`, {});
    expect((await bearerFetch(a.host.url, revoked.token, "GET", "/v1/budget")).status).toBe(401);

    const { status, page: all } = await page(bot, "?limit=200");
    expect(status).toBe(200);
    const rpcOutcomes = all.events
      .filter((e) => e.route === "POST /v1/rpc")
      .map((e) => [e.method, e.outcome, e.status]);
    expect(rpcOutcomes).toEqual([
      ["echo.say", "ok", 200],
      ["notes.write", "insufficient_scope", 403],
      ["llm.complete", "budget_exceeded", 429],
      ["notes.write", "upstream_error", 502],
      ["nope.nothing", "method_not_found", 404],
      ["ghost.call", "method_not_found", 404],
    ]);
    const first = all.events.find((e) => e.route === "POST /v1/rpc");
    expect(first).toMatchObject({ tenant: "audited", subject: bot.signPublicKey, credential: "bearer", jti: full.jti });
    expect(first?.usage).toEqual({ input: 5, output: 5 });
    const denied = all.events.filter((e) => e.outcome === "auth_denied" || e.outcome === "revoked");
    expect(denied.map((e) => [e.outcome, e.reason, e.jti])).toEqual([
      ["auth_denied", "expired", "expired-token-000000"],
      ["revoked", "token_revoked", revoked.jti],
    ]);
    const sessions = all.events.filter((e) => e.route === "POST /v1/sessions");
    expect(sessions.every((e) => e.outcome === "ok" && e.credential === "signed")).toBe(true);
  });

  it("rate-limited requests are their own outcome", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await signedFetch(a.host.url, throttled, "GET", "/v1/budget")).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    const { page: p } = await page(admin, "?tenant=throttled");
    expect(p.events.filter((e) => e.outcome === "rate_limited").length).toBe(statuses.filter((s) => s === 429).length);
    expect(p.events.filter((e) => e.outcome === "ok").length).toBe(statuses.filter((s) => s === 200).length);
  });

  it("pages with `after`; a tenant reads only its own trail, admins any, including unattributed refusals", async () => {
    const one = await page(bot, "?limit=2");
    expect(one.page.events).toHaveLength(2);
    expect(one.page.next).toBe(one.page.events[1]?.seq);
    const two = await page(bot, `?limit=2&after=${one.page.next}`);
    expect(two.page.events[0]?.seq).toBeGreaterThan(one.page.next ?? 0);
    const everything = await page(bot, "?limit=200");
    expect(everything.page.events.slice(2, 4)).toEqual(two.page.events);
    const end = await page(bot, `?after=${everything.page.events.at(-1)?.seq}`);
    // Reading the trail is itself audited: past the last page there is only that read's own record.
    expect(end.page.next).toBeNull();
    expect(end.page.events.map((e) => [e.route, e.outcome])).toEqual([["GET /v1/audit", "ok"]]);

    expect((await page(outsider, "?tenant=audited")).status).toBe(404);
    expect((await page(admin, "?tenant=audited")).status).toBe(200);
    expect((await page(bot, "?limit=0")).status).toBe(400);

    await fetch(`${a.host.url}/v1/budget`, { headers: { authorization: "Bearer not.a.token" } });
    await a.handles.audit.flushTally();
    expect((await page(bot, "?tenant=_unattributed")).status).toBe(404);
    const unattributed = await page(admin, "?tenant=_unattributed&limit=200");
    expect(unattributed.status).toBe(200);
    expect(unattributed.page.events.at(-1)).toMatchObject({
      tenant: null,
      outcome: "auth_denied",
      reason: "malformed",
      route: "*",
      count: 1,
    });
  });

  it("300 requests signed by an unregistered key add O(1) audit records: a tally per kind and window", async () => {
    const stranger = identity("stranger", "nowhere");
    const subject = SUBJECTS.audit(UNATTRIBUTED);
    const records = async () =>
      (await a.host.ctx.store.conn.jsm.streams.info(STREAMS.audit.name, { subjects_filter: subject })).state.subjects?.[
        subject
      ] ?? 0;
    await a.handles.audit.flushTally();
    const before = await records();
    const statuses = new Set<number>();
    for (let i = 0; i < 300; i += 30) {
      const batch = await Promise.all(
        Array.from({ length: 30 }, () => signedFetch(a.host.url, stranger, "GET", "/v1/budget")),
      );
      for (const r of batch) statuses.add(r.status);
    }
    expect([...statuses]).toEqual([401]);
    expect(await records()).toBe(before);
    expect(await a.handles.audit.flushTally()).toBe(1);
    const added = (await records()) - before;
    console.log(`300 unauthenticated requests: ${added} audit record(s)`);
    expect(added).toBe(1);
    const unattributed = await page(admin, "?tenant=_unattributed&limit=200");
    expect(unattributed.page.events.at(-1)).toMatchObject({ outcome: "auth_denied", status: 401, count: 300 });
  });
});

describe("pre-auth refusals are tallied too", () => {
  const cluster = useCluster({ nodes: 1 });
  let a: GatewayA;

  beforeAll(async () => {
    a = await startReplicaA(cluster(), gatewayEnv(), { CONCLAVE_IP_RATE_PER_S: "1", CONCLAVE_IP_BURST: "5" });
  });
  afterAll(async () => {
    await a?.host.close();
  });

  it("a flood shed by the per-IP limiter (429) adds one record per kind, not one per request", async () => {
    const subject = SUBJECTS.audit(UNATTRIBUTED);
    const records = async () =>
      (await a.host.ctx.store.conn.jsm.streams.info(STREAMS.audit.name, { subjects_filter: subject })).state.subjects?.[
        subject
      ] ?? 0;
    const before = await records();
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await fetch(`${a.host.url}/v1/budget`)).status);
    const shed = statuses.filter((s) => s === 429).length;
    expect(shed).toBeGreaterThan(0);
    await a.handles.audit.flushTally();
    const added = (await records()) - before;
    console.log(`60 unsigned requests (${shed} shed with 429): ${added} audit record(s)`);
    expect(added).toBeLessThanOrEqual(2);
  });
});
