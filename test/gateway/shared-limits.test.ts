import { BudgetLedger, type EffectivePlan } from "@conclave/gateway";
import { type RpcServer, serveRpc } from "@conclave/rpc";
import { Store } from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ServiceProcess } from "../support/service-process.ts";
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
  startReplicaA,
  startReplicaB,
} from "./gateway-fixture.ts";

// Budgets and rate limits shared by two gateway replicas (A here, B an OS process).
// llm.complete is estimated at 60 input units (fixture); its handler reports what it was told to.

interface BudgetBody {
  used: { input: number; output: number };
  reserved: { input: number; output: number };
  live_reservations: number;
  limits: { input: number };
  tier: string;
}

describe("budgets and rate limits shared by two gateway replicas", () => {
  const cluster = useCluster({ nodes: 1 });
  const env = gatewayEnv({ CONCLAVE_GATEWAY_TENANT_TIERS: "small=free,metered=pro" });
  let a: GatewayA;
  let b: ServiceProcess;
  let nc: NatsConnection;
  let server: RpcServer;
  const admin = identity("admin");
  const users = {
    shared: identity("shared", "shared"),
    burst: identity("burst", "burst"),
    steady: identity("steady", "steady"),
    lease: identity("lease", "lease"),
    small: identity("small", "small"),
    greedy: identity("greedy", "greedy"),
  };

  beforeAll(async () => {
    a = await startReplicaA(cluster(), env);
    await addUsers(
      a,
      admin,
      Object.values(users).map((key) => ({ key })),
      true,
    );
    nc = await connect(cluster().connectOptions("rpc"));
    server = serveRpc(nc, {
      method: "llm.complete",
      params: z.object({ use: z.number().int().nonnegative(), holdMs: z.number().int().max(1_900).default(0) }),
      handler: async (call) => {
        if (call.params.holdMs) await new Promise((r) => setTimeout(r, call.params.holdMs));
        call.reportUsage({ input: call.params.use, output: 0 });
        return { done: true };
      },
    });
    await nc.flush();
    b = await startReplicaB(cluster(), env);
    for (const tenant of ["shared", "burst", "steady", "lease", "greedy"]) {
      const res = await signedFetch(a.host.url, admin, "PUT", `/v1/tenants/${tenant}/budget`, {
        input: 100,
        output: 100,
      });
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => {
    await server?.stop();
    await nc?.close();
    await b?.stop();
    await a?.host.close();
  });

  const complete = (url: string, who: (typeof users)[keyof typeof users], use: number, holdMs = 0) =>
    signedFetch(url, who, "POST", "/v1/rpc", rpc("llm.complete", { use, holdMs }));
  const budgetOf = async (url: string, who: (typeof users)[keyof typeof users]) =>
    (await signedFetch(url, who, "GET", "/v1/budget")).body as BudgetBody;

  it("only admins set budgets; the tenant sees its own usage", async () => {
    const denied = await signedFetch(a.host.url, users.shared, "PUT", "/v1/tenants/shared/budget", {
      input: 1_000_000,
      output: 1_000_000,
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get("x-ratelimit-limit")).not.toBeNull();
    const badTier = await signedFetch(a.host.url, admin, "PUT", "/v1/tenants/shared/budget", {
      input: 1,
      output: 1,
      tier: "platinum",
    });
    expect(badTier.status).toBe(400);
    // Issue 15: "constructor" was found on Object.prototype; the tenant then got 429 with
    // x-ratelimit-limit "function Object() { [native code] }" and Retry-After NaN.
    const prototypeTier = await signedFetch(a.host.url, admin, "PUT", "/v1/tenants/shared/budget", {
      input: 100,
      output: 100,
      tier: "constructor",
    });
    expect(prototypeTier.status).toBe(400);
    expect(errorOf(prototypeTier.body).message).toMatch(/tier/);
    const after = await signedFetch(b.url, users.shared, "GET", "/v1/budget");
    expect(after.status).toBe(200);
    expect(after.headers.get("x-ratelimit-limit")).toMatch(/^\d+$/);
    const view = await budgetOf(b.url, users.shared);
    expect(view).toMatchObject({
      tenant: "shared",
      limits: { input: 100, output: 100 },
      used: { input: 0, output: 0 },
    });
    const other = await signedFetch(b.url, users.shared, "GET", "/v1/budget?tenant=burst");
    expect(other.status).toBe(404);
    const asAdmin = await signedFetch(b.url, admin, "GET", "/v1/budget?tenant=burst");
    expect(asAdmin.status).toBe(200);
  });

  it("usage recorded through one replica bounds the other: one budget, not one per replica", async () => {
    expect((await complete(a.host.url, users.shared, 50)).status).toBe(200);
    expect((await budgetOf(b.url, users.shared)).used.input).toBe(50);
    const over = await complete(b.url, users.shared, 1);
    expect(over.status).toBe(429);
    expect(errorOf(over.body)).toMatchObject({
      code: "budget_exceeded",
      message: expect.stringContaining("input tokens 110/100"),
    });
    expect(over.body).toMatchObject({ protocol: "conclave.v1", id: 1 });
    expect(over.headers.get("x-ratelimit-remaining")).toMatch(/^\d+$/);
  });

  it("a concurrent burst across both replicas admits no more than the budget allows", async () => {
    // 50 calls at 60 units each against 100: one fits, the rest must be refused while it runs.
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => complete(i % 2 === 0 ? a.host.url : b.url, users.burst, 60, 800)),
    );
    const statuses = results.map((r) => r.status);
    const admitted = statuses.filter((s) => s === 200).length;
    const refused = results.filter((r) => r.status === 429 && errorOf(r.body).code === "budget_exceeded").length;
    console.log(
      `burst of 50 × 60 units against 100 on 2 replicas: ${admitted} admitted, ${refused} budget_exceeded, others ${JSON.stringify(statuses.filter((s) => s !== 200 && s !== 429))}`,
    );
    expect(admitted).toBe(1);
    expect(admitted + refused).toBe(50);
    const view = await budgetOf(a.host.url, users.burst);
    expect(view.used.input).toBe(60);
    expect(view.reserved.input).toBe(0);
  });

  it("sequential calls are not starved: each releases what it did not use", async () => {
    for (let i = 0; i < 8; i++) {
      const res = await complete(i % 2 === 0 ? a.host.url : b.url, users.steady, 2);
      expect([i, res.status]).toEqual([i, 200]);
    }
    expect(await budgetOf(b.url, users.steady)).toMatchObject({ used: { input: 16 }, reserved: { input: 0 } });
  });

  it("a handler reporting more than was reserved is refused and charged the reservation, never its report", async () => {
    // A report of 2^53 − 1 once went into the sum and left the tenant's stored budget unreadable.
    const greedy = await complete(b.url, users.greedy, Number.MAX_SAFE_INTEGER);
    expect(greedy.status).toBe(502);
    expect(errorOf(greedy.body)).toMatchObject({ code: "bad_gateway", reason: "usage_over_reservation" });
    const view = await signedFetch(a.host.url, users.greedy, "GET", "/v1/budget");
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ used: { input: 60 }, reserved: { input: 0 } });
    // 60 charged + 60 estimated > 100: the budget holds against what was charged.
    const next = await complete(a.host.url, users.greedy, 1);
    expect([next.status, errorOf(next.body).code]).toEqual([429, "budget_exceeded"]);
  });

  it("rate limits are per tenant tier and shared by both replicas; headers on every response, Retry-After on 429", async () => {
    // Stay clear of a window boundary so that the count below is exact.
    const intoWindow = Date.now() % 60_000;
    if (intoWindow > 45_000) await new Promise((r) => setTimeout(r, 60_500 - intoWindow));
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) {
      const url = i % 2 === 0 ? a.host.url : b.url;
      const res = await signedFetch(url, users.small, "GET", "/v1/budget");
      expect([i, res.status]).toEqual([i, 200]);
      expect(res.headers.get("x-ratelimit-limit")).toBe("20");
      seen.push(Number(res.headers.get("x-ratelimit-remaining")));
      const reset = Number(res.headers.get("x-ratelimit-reset"));
      expect(reset).toBeGreaterThanOrEqual(1);
      expect(reset).toBeLessThanOrEqual(60);
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
    for (const url of [a.host.url, b.url]) {
      const limited = await signedFetch(url, users.small, "POST", "/v1/rpc", rpc("llm.complete", { use: 1 }));
      expect(limited.status).toBe(429);
      expect(errorOf(limited.body).code).toBe("rate_limited");
      expect(limited.headers.get("x-ratelimit-limit")).toBe("20");
      expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // Another tenant is unaffected.
    expect((await signedFetch(b.url, users.steady, "GET", "/v1/budget")).status).toBe(200);
  });

  it("a replica killed mid-call holds its reservation until the lease ends, then it is charged at its estimate", async () => {
    const victim = await startReplicaB(cluster(), env);
    const session = await openSession(a.host.url, users.lease);
    const inFlight = bearerFetch(
      victim.url,
      session.token,
      "POST",
      "/v1/rpc",
      rpc("llm.complete", { use: 1, holdMs: 1_500 }),
    );
    inFlight.catch(() => {});
    // Wait until the victim's reservation is live, then kill it hard.
    let reservedAt = 0;
    for (let i = 0; i < 100 && reservedAt === 0; i++) {
      if ((await budgetOf(a.host.url, users.lease)).live_reservations === 1) reservedAt = Date.now();
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(reservedAt).toBeGreaterThan(0);
    victim.child.kill("SIGKILL");
    const blocked = await complete(a.host.url, users.lease, 1);
    expect([blocked.status, errorOf(blocked.body).code]).toEqual([429, "budget_exceeded"]);
    // The lease ends: the call may have run, so its estimate (60) becomes usage rather than free room.
    let chargedAt = 0;
    let view = await budgetOf(a.host.url, users.lease);
    while (chargedAt === 0 && Date.now() - reservedAt < 15_000) {
      view = await budgetOf(a.host.url, users.lease);
      if (view.live_reservations === 0) chargedAt = Date.now();
      else await new Promise((r) => setTimeout(r, 100));
    }
    const heldFor = chargedAt - reservedAt;
    console.log(`killed replica's reservation charged ${heldFor} ms after it was taken (lease 4000 ms)`);
    expect(chargedAt).toBeGreaterThan(0);
    expect(heldFor).toBeGreaterThan(3_500);
    expect(heldFor).toBeLessThan(6_000);
    expect(view.used.input).toBe(60);
    // 60 used + 60 estimated > 100: still refused until the admin raises the budget.
    const refused = await complete(a.host.url, users.lease, 1);
    expect([refused.status, errorOf(refused.body).code]).toEqual([429, "budget_exceeded"]);
    const raise = await signedFetch(a.host.url, admin, "PUT", "/v1/tenants/lease/budget", { input: 120, output: 100 });
    expect(raise.status).toBe(200);
    const admitted = await complete(a.host.url, users.lease, 1);
    expect(admitted.status).toBe(200);
    expect((await budgetOf(a.host.url, users.lease)).used.input).toBe(61);
  });

  it("contended reservations per second for one tenant across two replicas (measured)", async () => {
    const plan: EffectivePlan = { tier: "test", requestsPerWindow: 1, limits: { input: 1e12, output: 1e12 } };
    const second = await Store.connect({
      ...cluster().connectOptions("operator"),
      name: "ledger-2",
      replicas: 1,
      opTimeoutMs: 2_000,
    });
    try {
      const ledgers = [
        a.handles.ledger,
        // The same period as replica A's configuration (the 30-day default): ledgers with different
        // periods read each other's period index as a rollover and reset the usage (this test once
        // did exactly that, losing A's first settles).
        new BudgetLedger({ store: second, periodS: 30 * 86_400, leaseMs: 10_000, now: Date.now }),
      ];
      const durationMs = 3_000;
      const until = Date.now() + durationMs;
      let pairs = 0;
      let failures = 0;
      const worker = async (ledger: BudgetLedger) => {
        while (Date.now() < until) {
          try {
            const r = await ledger.reserve("contended", { input: 1, output: 1 }, plan);
            // A settle that could not be recorded is a failure, not a pair: usage would be lost.
            if (await ledger.settle(r, { input: 1, output: 1 })) pairs++;
            else failures++;
          } catch {
            failures++;
          }
        }
      };
      await Promise.all(ledgers.flatMap((l) => Array.from({ length: 16 }, () => worker(l))));
      console.log(
        `ledger: ${(pairs / (durationMs / 1000)).toFixed(0)} reserve+settle pairs/s for one tenant, ` +
          `2 replicas × 16 concurrent callers (${failures} failures)`,
      );
      expect(failures).toBe(0);
      const view = await a.handles.ledger.view("contended", plan);
      expect(view.used.input).toBe(pairs);
      expect(view.live_reservations).toBe(0);

      // End to end: RPC calls through both replicas' HTTP edges (auth, rate limit, reserve, NATS call, settle, audit).
      const tokenA = await openSession(a.host.url, users.steady);
      await signedFetch(a.host.url, admin, "PUT", "/v1/tenants/steady/budget", {
        input: 1e12,
        output: 1e12,
        tier: "test",
      });
      let calls = 0;
      const endToEnd = Date.now() + durationMs;
      const caller = async (url: string) => {
        while (Date.now() < endToEnd) {
          const res = await bearerFetch(url, tokenA.token, "POST", "/v1/rpc", rpc("llm.complete", { use: 1 }));
          if (res.status === 200) calls++;
        }
      };
      await Promise.all([a.host.url, b.url].flatMap((url) => Array.from({ length: 8 }, () => caller(url))));
      console.log(
        `end to end: ${(calls / (durationMs / 1000)).toFixed(0)} metered RPC calls/s for one tenant over 2 replicas × 8 connections`,
      );
      expect(calls).toBeGreaterThan(0);
    } finally {
      await second.close();
    }
  });
});
