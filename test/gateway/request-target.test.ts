import { fromBase64url, signRequest } from "@conclave/auth";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest } from "../support/raw-http.ts";
import { addUsers, type GatewayA, gatewayEnv, identity, startReplicaA } from "./gateway-fixture.ts";

// Issue 15, item 1, as found: a request signed over `GET /v1/audit` with an
// empty query, sent with `#tenant=…` appended. The verifier dropped the
// fragment; the router read it as the query the signer never signed.

describe("a fragment cannot smuggle a query past the signature", () => {
  const cluster = useCluster({ nodes: 1 });
  let a: GatewayA;
  let port: number;
  const admin = identity("admin");
  const bot = identity("bot", "audited");
  const headersFor = (target: string) =>
    signRequest({
      method: "GET",
      url: target,
      secretKey: fromBase64url(bot.signSecretKey) as Uint8Array,
      keyid: bot.signPublicKey,
    }) as unknown as Record<string, string>;

  beforeAll(async () => {
    a = await startReplicaA(cluster(), gatewayEnv());
    await addUsers(a, admin, [{ key: bot, scopes: ["audit:read", "rpc:read"] }], true);
    port = Number(new URL(a.host.url).port);
  });
  afterAll(() => a?.host.close());

  it("the signed empty-query request itself is served", async () => {
    const answer = await rawRequest(port, "GET", "/v1/audit", headersFor("/v1/audit"));
    expect(answer.status).toBe(200);
  });

  it.each(["/v1/audit#tenant=acme", "/v1/audit?#tenant=acme", "/v1/audit#?tenant=acme"])(
    "%s, signed as /v1/audit with an empty query, is refused before any handler",
    async (target) => {
      // The signer, like the verifier before the fix, signs the target without its fragment.
      const answer = await rawRequest(port, "GET", target, headersFor(target));
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "bad_request", reason: "request_target" } });
    },
  );
});
