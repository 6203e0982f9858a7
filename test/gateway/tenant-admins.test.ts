import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedFetch } from "../support/signed-client.ts";
import {
  addUsers,
  errorOf,
  type GatewayA,
  gatewayEnv,
  identity,
  openSession,
  startReplicaA,
} from "./gateway-fixture.ts";

// Issue 15, item 7: an admin of tenant A read tenant B's audit and could set B's budget.
// An admin manages its own tenant's budget and audit only; the operator every tenant's.

describe("budgets and audit: admins confined to their tenant, the operator everywhere", () => {
  const cluster = useCluster({ nodes: 1 });
  let a: GatewayA;
  const operator = identity("operator", "local");
  const adminA = identity("admin-a", "tenant-a");
  const memberA = identity("member-a", "tenant-a");
  const memberB = identity("member-b", "tenant-b");
  const plan = { input: 100, output: 100 };

  beforeAll(async () => {
    a = await startReplicaA(cluster(), gatewayEnv());
    await addUsers(a, operator, [{ key: adminA, role: "admin" }, { key: memberA }, { key: memberB }], true);
    // Tenant B has a trail.
    await signedFetch(a.host.url, memberB, "GET", "/v1/budget");
  });
  afterAll(async () => {
    await a?.host.close();
  });

  it("an admin of A sets A's budget but not B's (B is no tenant to it); a member sets none", async () => {
    expect((await signedFetch(a.host.url, adminA, "PUT", "/v1/tenants/tenant-a/budget", plan)).status).toBe(200);
    const other = await signedFetch(a.host.url, adminA, "PUT", "/v1/tenants/tenant-b/budget", plan);
    expect(other.status).toBe(404);
    expect(errorOf(other.body).message).toBe("no such tenant");
    const unknown = await signedFetch(a.host.url, adminA, "PUT", "/v1/tenants/no-such-tenant/budget", plan);
    expect([unknown.status, errorOf(unknown.body).message]).toEqual([404, "no such tenant"]);
    expect((await signedFetch(a.host.url, memberA, "PUT", "/v1/tenants/tenant-a/budget", plan)).status).toBe(403);
    expect((await signedFetch(a.host.url, adminA, "GET", "/v1/budget?tenant=tenant-b")).status).toBe(404);
  });

  it("an admin of A reads A's audit, not B's nor the unattributed records", async () => {
    expect((await signedFetch(a.host.url, adminA, "GET", "/v1/audit?tenant=tenant-a")).status).toBe(200);
    const other = await signedFetch(a.host.url, adminA, "GET", "/v1/audit?tenant=tenant-b");
    expect([other.status, errorOf(other.body).message]).toEqual([404, "no such tenant"]);
    expect((await signedFetch(a.host.url, adminA, "GET", "/v1/audit?tenant=_unattributed")).status).toBe(404);
  });

  it("the operator sets B's budget and reads B's audit and the unattributed records", async () => {
    const set = await signedFetch(a.host.url, operator, "PUT", "/v1/tenants/tenant-b/budget", plan);
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ tenant: "tenant-b", limits: plan });
    const trail = await signedFetch(a.host.url, operator, "GET", "/v1/audit?tenant=tenant-b");
    expect(trail.status).toBe(200);
    expect((trail.body as { events: unknown[] }).events.length).toBeGreaterThan(0);
    expect((await signedFetch(a.host.url, operator, "GET", "/v1/audit?tenant=_unattributed")).status).toBe(200);
  });

  it("an admin of A cannot revoke a session token of B (404, as for no token); the operator can", async () => {
    const session = await openSession(a.host.url, memberB);
    const path = `/v1/tokens/${session.jti}/revoke`;
    const denied = await signedFetch(a.host.url, adminA, "POST", path, {});
    const none = await signedFetch(a.host.url, adminA, "POST", "/v1/tokens/AAAAAAAAAAAAAAAAAAAAAA/revoke", {});
    expect([denied.status, denied.body]).toEqual([none.status, none.body]);
    expect(denied.status).toBe(404);
    expect((await signedFetch(a.host.url, operator, "POST", path, {})).status).toBe(200);
  });
});
