import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
  percentile,
  rpc,
  startReplicaA,
  startReplicaB,
} from "./gateway-fixture.ts";

// Revocation across two gateway replicas: A in this process, B its own OS process.

describe("token revocation across two gateway replicas", () => {
  const cluster = useCluster({ nodes: 1 });
  const env = gatewayEnv();
  let a: GatewayA;
  let b: ServiceProcess;
  const admin = identity("admin");
  const bot = identity("bot");
  const peer = identity("peer");

  beforeAll(async () => {
    a = await startReplicaA(cluster(), env);
    await addUsers(a, admin, [{ key: bot }, { key: peer }], true, ["admin", "rpc:call"]);
    b = await startReplicaB(cluster(), env);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.host.close();
  });

  const budgetOn = (url: string, token: string) => bearerFetch(url, token, "GET", "/v1/budget");

  it("a token issued by one replica is accepted by the other (one key, one policy)", async () => {
    const session = await openSession(a.host.url, bot);
    expect((await budgetOn(b.url, session.token)).status).toBe(200);
    const fromB = await openSession(b.url, bot);
    expect((await budgetOn(a.host.url, fromB.token)).status).toBe(200);
  });

  it("the token's own subject revokes it (with that very token) and every path then refuses it", async () => {
    const session = await openSession(a.host.url, bot);
    const revoked = await bearerFetch(b.url, session.token, "POST", `/v1/tokens/${session.jti}/revoke`, {});
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ jti: session.jti, revoked: true, expires_at: session.expires_at });
    const paths: [string, string, unknown][] = [
      ["GET", "/v1/budget", undefined],
      ["POST", "/v1/rpc", rpc("echo.say", { text: "x" })],
      ["GET", "/v1/rpc/methods", undefined],
      ["GET", "/v1/audit", undefined],
      ["PUT", "/v1/tenants/acme/budget", { input: 1, output: 1 }],
      ["POST", `/v1/tokens/${session.jti}/revoke`, {}],
    ];
    for (const url of [a.host.url, b.url]) {
      for (const [method, path, body] of paths) {
        const res = await bearerFetch(url, session.token, method, path, body);
        expect([url === b.url ? "B" : "A", method, path, res.status, errorOf(res.body).reason]).toEqual([
          url === b.url ? "B" : "A",
          method,
          path,
          401,
          "token_revoked",
        ]);
      }
    }
    // Idempotent: revoking again (signed, by the subject) answers the same.
    const again = await signedFetch(a.host.url, bot, "POST", `/v1/tokens/${session.jti}/revoke`, {});
    expect(again.status).toBe(200);
  });

  it("only an admin or the token's subject may revoke; others cannot even tell the token exists", async () => {
    const session = await openSession(a.host.url, bot);
    const byPeer = await signedFetch(b.url, peer, "POST", `/v1/tokens/${session.jti}/revoke`, {});
    expect(byPeer.status).toBe(404);
    const unknown = await signedFetch(b.url, peer, "POST", "/v1/tokens/AAAAAAAAAAAAAAAAAAAAAA/revoke", {});
    expect(unknown.status).toBe(404);
    expect(errorOf(byPeer.body)).toEqual(errorOf(unknown.body));
    // An admin's token without the admin scope is not an admin token.
    const narrowAdmin = await openSession(a.host.url, admin, { scopes: ["rpc:call"] });
    const byNarrow = await bearerFetch(a.host.url, narrowAdmin.token, "POST", `/v1/tokens/${session.jti}/revoke`, {});
    expect(byNarrow.status).toBe(404);
    expect((await budgetOn(b.url, session.token)).status).toBe(200);
    const adminToken = await openSession(a.host.url, admin, { scopes: ["admin"] });
    const byAdmin = await bearerFetch(b.url, adminToken.token, "POST", `/v1/tokens/${session.jti}/revoke`, {
      reason: "leaked",
    });
    expect(byAdmin.status).toBe(200);
    expect((await budgetOn(a.host.url, session.token)).status).toBe(401);
    const bad = await signedFetch(a.host.url, admin, "POST", "/v1/tokens/..%2Fetc/revoke", {});
    expect(bad.status).toBe(400);
  });

  it("a revocation on A is in force on B by the time A answers: propagation measured", async () => {
    const total: number[] = [];
    const afterAck: number[] = [];
    let violations = 0;
    const rounds = 40;
    for (let i = 0; i < rounds; i++) {
      const session = await openSession(a.host.url, bot);
      expect((await budgetOn(b.url, session.token)).status).toBe(200);
      const started = performance.now();
      const revoke = await signedFetch(a.host.url, admin, "POST", `/v1/tokens/${session.jti}/revoke`, {});
      expect(revoke.status).toBe(200);
      const acked = performance.now();
      const probe = await budgetOn(b.url, session.token);
      const refused = performance.now();
      if (probe.status !== 401) violations++;
      total.push(refused - started);
      afterAck.push(refused - acked);
    }
    total.sort((x, y) => x - y);
    afterAck.sort((x, y) => x - y);
    const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
    console.log(
      `revocation propagation A→B over ${rounds} rounds: revoke issued → B refuses: ${fmt(total)}; ` +
        `revoke acknowledged → B refuses: ${fmt(afterAck)}; first B request after the ack accepted: ${violations}`,
    );
    // The rule is asserted; its time is printed (a timed assertion failed at load 17: 2,985 ms).
    expect(violations).toBe(0);
  });

  it("a replica that cannot reach the store refuses tokens with 503, never accepts them", async () => {
    const session = await openSession(a.host.url, bot);
    expect((await budgetOn(b.url, session.token)).status).toBe(200);
    const node = cluster().nodes[0]?.name ?? "n1";
    await cluster().kill(node);
    try {
      for (const url of [a.host.url, b.url]) {
        const started = Date.now();
        const res = await budgetOn(url, session.token);
        expect(res.status).toBe(503);
        expect(res.headers.get("retry-after")).toBe("1");
        expect(Date.now() - started).toBeLessThan(5_000);
      }
    } finally {
      await cluster().node(node).start();
    }
    await eventually(async () => {
      const res = await budgetOn(b.url, session.token);
      if (res.status !== 200) throw new Error(`still ${res.status}`);
    }, 60_000);
  });
});
