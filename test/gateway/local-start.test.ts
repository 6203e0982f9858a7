import { gatewayModule } from "@conclave/gateway";
import { membershipModule, userCommands } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedFetch } from "../support/signed-client.ts";
import { bearerFetch, identity, openSession, serviceEnv } from "./gateway-fixture.ts";

// The composition the local start uses: one loopback process, membership and
// the gateway side by side, no gateway configuration (an ephemeral key).

describe("the gateway mounted beside membership with no configuration (local start)", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  const admin = identity("admin", "local");

  beforeAll(async () => {
    expect(process.env.CONCLAVE_GATEWAY_JWT_KEY).toBeUndefined();
    host = await startHost({
      env: loadServiceEnv({ ...serviceEnv(cluster()), CONCLAVE_PORT: "0", CONCLAVE_HOST: "127.0.0.1" }),
      modules: [membershipModule, gatewayModule],
    });
    await userCommands(host.ctx).bootstrap({
      sign_pub: admin.signPublicKey,
      kex_pub: admin.kexPublicKey,
      tenant: "local",
      role: "operator",
      scopes: [],
      name: "admin",
    });
  });
  afterAll(async () => {
    await host?.close();
  });

  it("serves sessions, JWKS, budgets and audit next to the users routes", async () => {
    expect((await signedFetch(host.url, admin, "GET", "/v1/users")).status).toBe(200);
    const jwks = (await (await fetch(`${host.url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    expect(jwks.keys).toHaveLength(1);
    const session = await openSession(host.url, admin);
    const budget = await bearerFetch(host.url, session.token, "GET", "/v1/budget");
    expect(budget.status).toBe(200);
    expect(budget.body).toMatchObject({ tenant: "local", tier: "free" });
    expect(budget.headers.get("x-ratelimit-limit")).toBe("20");
    const audit = await signedFetch(host.url, admin, "GET", "/v1/audit");
    expect(audit.status).toBe(200);
    const methods = await signedFetch(host.url, admin, "GET", "/v1/rpc/methods");
    expect(methods.body).toEqual({ methods: [] });
  });
});
