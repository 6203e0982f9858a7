import { createHash } from "node:crypto";
import { fromBase64url, generateIdentity, privateKeyObject, signRequest } from "@conclave/auth";
import { membershipModule, userCommands } from "@conclave/membership";
import { type Host, loadServiceEnv, type ServiceModule, startHost } from "@conclave/runtime";
import { useCluster } from "@conclave/testkit";
import fc from "fast-check";
import { parse as parseQuery } from "fast-querystring";
import { createSigner, httpbis } from "http-message-signatures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRequestTarget } from "../../libs/auth/src/request-target.ts";
import { rawRequest } from "../support/raw-http.ts";

// The signed-request pipeline on a real edge and cluster.
//
// What is verified is what is routed (issue 15, item 1). Hostile request
// targets go to a real edge over a raw socket, each signed by a
// registered key over the target as the signer reads it. Invariant: a request
// the edge lets through reaches its handler with exactly the path and query the
// signature covers; everything else is refused.

const echoModule: ServiceModule = {
  name: "echo",
  eventSchemas: {},
  projections: [],
  register({ edge }) {
    // No auth setting: signed by default (item 10).
    const echo = async (request: { routeOptions: { url?: string }; params: unknown; query: unknown }) => ({
      route: request.routeOptions.url,
      params: request.params,
      query: request.query,
    });
    edge.app.get("/v1/echo", { config: { body: "none" } }, echo);
    edge.app.get("/v1/echo/:id", { config: { body: "none" } }, echo);
    edge.app.post("/v1/echo/:id", { config: { body: "json" } }, echo);
  },
};

/** The handler's view a signed target entitles: its route, decoded params and parsed query. */
function expectedView(target: string): { route: string; params: Record<string, string>; query: unknown } | undefined {
  const { path, query } = parseRequestTarget(target);
  const parsedQuery = parseQuery(query.slice(1));
  if (path === "/v1/echo") return { route: "/v1/echo", params: {}, query: parsedQuery };
  const id = /^\/v1\/echo\/([^/]*)$/.exec(path)?.[1];
  if (id === undefined) return undefined;
  return { route: "/v1/echo/:id", params: { id: decodeURIComponent(id) }, query: parsedQuery };
}

const PATH_PIECES = ["a", "b", "%61", ".", "..", "%2e", "%2E", "/", "//", ";", "%3b", "%2f", "%2F", "%3f", "%23", "\\"];
const PATH_PIECES_MORE = [...PATH_PIECES, "%", "%zz", "%00", "~", "=", "&", "@", ":"];
const QUERY_PIECES = ["tenant", "=", "x", "&", "?", "#", "%23", "%26", "%3D", "+", ";", "%", "[]", "a"];

const hostileTarget = fc
  .record({
    prefix: fc.constantFrom(
      "/v1/echo/",
      "/v1/echo",
      "http://evil.example/v1/echo/",
      "HTTP://127.0.0.1/v1/echo",
      "//v1/echo/",
      "/v1/./echo/",
      "/v1/x/../echo/",
      "/v1/echo/%2e%2e/echo/",
    ),
    path: fc.array(fc.constantFrom(...PATH_PIECES_MORE), { maxLength: 5 }),
    query: fc.option(fc.array(fc.constantFrom(...QUERY_PIECES), { maxLength: 6 })),
    fragment: fc.option(fc.array(fc.constantFrom(...QUERY_PIECES), { maxLength: 6 })),
  })
  .map(({ prefix, path, query, fragment }) => {
    let target = prefix + path.join("");
    if (query !== null) target += `?${query.join("")}`;
    if (fragment !== null) target += `#${fragment.join("")}`;
    return target;
  });

describe("the path and query a handler sees are the ones the signature covers", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  let port: number;
  const signer = generateIdentity({ name: "signer", tenant: "acme", url: "http://127.0.0.1" });
  const secretKey = fromBase64url(signer.signSecretKey) as Uint8Array;
  const signed = (target: string): Record<string, string> => {
    let headers: Record<string, string> = {};
    try {
      headers = signRequest({ method: "GET", url: target, secretKey, keyid: signer.signPublicKey }) as never;
    } catch {
      // A target the signer cannot read goes unsigned: it must be refused all the same.
    }
    return headers;
  };

  beforeAll(async () => {
    const env = {
      ...cluster().serviceEnv("membership"),
      CONCLAVE_REPLICAS: "1",
      CONCLAVE_OP_TIMEOUT_MS: "1500",
      CONCLAVE_LOG_LEVEL: "silent",
      CONCLAVE_IP_RATE_PER_S: "100000",
      CONCLAVE_IP_BURST: "100000",
      CONCLAVE_PORT: "0",
    };
    host = await startHost({ env: loadServiceEnv(env), modules: [membershipModule, echoModule] });
    await userCommands(host.ctx).bootstrap({
      sign_pub: signer.signPublicKey,
      kex_pub: signer.kexPublicKey,
      tenant: "acme",
      role: "operator",
      scopes: [],
    });
    port = Number(new URL(host.url).port);
  });
  afterAll(() => host?.close());

  it("a plain signed target reaches its handler (the property below is not vacuous)", async () => {
    const target = "/v1/echo/a%61?tenant=acme&x=1";
    const answer = await rawRequest(port, "GET", target, signed(target));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(expectedView(target));
  });

  it("hostile targets: refused, or routed exactly as signed", async () => {
    await fc.assert(
      fc.asyncProperty(hostileTarget, async (target) => {
        const answer = await rawRequest(port, "GET", target, signed(target));
        if (answer.status !== 200) {
          expect([400, 401, 404]).toContain(answer.status);
          return;
        }
        expect(JSON.parse(answer.body)).toEqual(expectedView(target));
      }),
      { numRuns: 300 },
    );
  });

  // Interop (issue 15, item 11): before, the edge passed no scheme and any
  // signer covering @target-uri or @scheme got missing_component, and a sha-512
  // digest got missing_digest. The server sees http and the Host it was sent.
  it("a request signed by http-message-signatures over @target-uri, @authority and @scheme, with a sha-512 digest, is served", async () => {
    const body = new TextEncoder().encode('{"hello":"world"}');
    const target = "/v1/echo/x?y=1";
    const signed = await httpbis.signMessage(
      {
        key: createSigner(privateKeyObject(secretKey), "ed25519", signer.signPublicKey),
        fields: ["@method", "@target-uri", "@authority", "@scheme", "content-digest"],
        params: ["created", "nonce", "keyid", "alg"],
        paramValues: { nonce: "interop-edge" },
      },
      {
        method: "POST",
        url: `http://127.0.0.1:${port}${target}`,
        headers: {
          "content-type": "application/json",
          "content-digest": `sha-512=:${createHash("sha512").update(body).digest("base64")}:`,
        },
      },
    );
    const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, String(v)]));
    const answer = await rawRequest(port, "POST", target, headers, body);
    expect(answer.status, answer.body).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(expectedView(target));
    // The same signature cannot be moved to another target.
    const moved = await rawRequest(port, "POST", "/v1/echo/x?y=2", headers, body);
    expect(JSON.parse(moved.body)).toMatchObject({ error: { reason: "bad_signature" } });
  });
});
