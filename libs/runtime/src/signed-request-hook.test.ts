import {
  type AuthenticatorDeps,
  conclavePolicy,
  generateEd25519KeyPair,
  PublicKeyCache,
  signRequest,
  toBase64url,
} from "@conclave/auth";
import { createEdge, type Edge } from "@conclave/http";
import { ApiError } from "@conclave/protocol";
import { withDeadline } from "@conclave/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prefetched, type RouteReads, registerSignedRequestAuth } from "./signed-request-hook.ts";

// Routes are signed unless they opt out by name (issue 15, item 10). Every
// request here is unsigned and refused at the parse step, before the store:
// the allowlist and the nonce table must never be reached.

const unreachable = (): never => {
  throw new Error("an unsigned request reached the store");
};

describe("routes are signed by default", () => {
  let edge: Edge;

  beforeAll(async () => {
    edge = createEdge({ service: "test", logger: false, ready: async () => true });
    const deps: AuthenticatorDeps = {
      policy: conclavePolicy(Date.now),
      keyCache: new PublicKeyCache(),
      lookupUser: async () => unreachable(),
      nonces: { create: async () => unreachable() },
    };
    registerSignedRequestAuth(edge.app, deps, { mode: "enforce" });
    // A route a future change adds without thinking about auth at all.
    edge.app.get("/v1/new-thing", { config: { body: "none" } }, async () => ({ leaked: true }));
    edge.app.get("/elsewhere", { config: { body: "none" } }, async () => ({ leaked: true }));
    edge.app.get("/v1/open", { config: { body: "none", auth: "none" } }, async () => ({ open: true }));
    await edge.app.ready();
  });
  afterAll(() => edge.app.close());

  it("a new /v1 route registered without an auth setting refuses an unsigned request", async () => {
    const res = await edge.app.inject({ method: "GET", url: "/v1/new-thing" });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: { code: "unauthorized", reason: "missing_signature" } });
  });

  it("so does a route outside /v1: only naming it open opens it", async () => {
    expect((await edge.app.inject({ method: "GET", url: "/elsewhere" })).statusCode).toBe(401);
    expect((await edge.app.inject({ method: "GET", url: "/v1/open" })).json()).toEqual({ open: true });
  });

  it("the edge's probes stay open, and an unknown path is still a 404", async () => {
    expect((await edge.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await edge.app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
    expect((await edge.app.inject({ method: "GET", url: "/v1/nothing-here" })).statusCode).toBe(404);
  });
});

// @scheme, @authority and @target-uri as the hook derives them. The signer is
// unknown to this allowlist, so "unknown_signer" means the signature verified
// (that check comes first) and "bad_signature" that it did not.
describe("the scheme and authority a signature over @target-uri is checked against", () => {
  const keys = generateEd25519KeyPair();
  const keyid = toBase64url(keys.publicKey);
  const reasonFor = async (edge: Edge, signedUri: string, host: string) => {
    const headers = signRequest({
      method: "GET",
      url: signedUri,
      secretKey: keys.secretKey,
      keyid,
      components: ["@method", "@target-uri", "@authority", "@scheme"],
    }) as unknown as Record<string, string>;
    const res = await edge.app.inject({ method: "GET", url: "/v1/thing?x=1", headers: { ...headers, host } });
    return (res.json() as { error: { reason: string } }).error.reason;
  };
  const edgeWith = async (publicOrigin?: { scheme: string; authority: string }) => {
    const edge = createEdge({ service: "test", logger: false, ready: async () => true });
    const deps: AuthenticatorDeps = {
      policy: conclavePolicy(Date.now),
      keyCache: new PublicKeyCache(),
      lookupUser: async () => undefined,
      nonces: { create: async () => unreachable() },
    };
    registerSignedRequestAuth(edge.app, deps, { mode: "enforce", publicOrigin });
    edge.app.get("/v1/thing", { config: { body: "none" } }, async () => ({}));
    await edge.app.ready();
    return edge;
  };

  it("without a configured origin: the connection's scheme and the Host field", async () => {
    const edge = await edgeWith();
    expect(await reasonFor(edge, "http://api.local:7420/v1/thing?x=1", "api.local:7420")).toBe("unknown_signer");
    expect(await reasonFor(edge, "https://api.local:7420/v1/thing?x=1", "api.local:7420")).toBe("bad_signature");
    expect(await reasonFor(edge, "http://api.local:7420/v1/thing?x=2", "api.local:7420")).toBe("bad_signature");
    await edge.app.close();
  });

  it("with CONCLAVE_PUBLIC_URL: its scheme and authority, whatever Host the proxy forwards", async () => {
    const edge = await edgeWith({ scheme: "https", authority: "conclave.example" });
    expect(await reasonFor(edge, "https://conclave.example/v1/thing?x=1", "internal:7420")).toBe("unknown_signer");
    expect(await reasonFor(edge, "http://internal:7420/v1/thing?x=1", "internal:7420")).toBe("bad_signature");
    await edge.app.close();
  });
});

// Issue 16 item 5: authentication's store calls end together within the
// decision bound of the request's arrival, not each within its own timeout.
// Here each call's own timeout is a minute: only the decision deadline can
// end the request (it would time the test out otherwise); nothing is timed.
describe("the signed-request hook decides within decisionMs of arrival", () => {
  it("an allowlist read that answers, then a claim that never does: 503 at the decision deadline", async () => {
    const keys = generateEd25519KeyPair();
    const keyid = toBase64url(keys.publicKey);
    const minute = 60_000;
    const edge = createEdge({ service: "test", logger: false, ready: async () => true });
    const deps: AuthenticatorDeps = {
      policy: conclavePolicy(Date.now),
      keyCache: new PublicKeyCache(),
      lookupUser: (signPub) =>
        withDeadline("allowlist read", minute, async () => ({
          signPub,
          kexPub: signPub,
          tenant: "acme",
          role: "member" as const,
          scopes: [],
          status: "active" as const,
        })),
      nonces: { create: () => withDeadline("nonce claim", minute, () => new Promise<never>(() => {})) },
    };
    registerSignedRequestAuth(edge.app, deps, { mode: "enforce", decisionMs: 300 });
    edge.app.get("/v1/thing", { config: { body: "none" } }, async () => ({ allowed: true }));
    await edge.app.ready();
    const headers = signRequest({ method: "GET", url: "/v1/thing", secretKey: keys.secretKey, keyid });
    const res = await edge.app.inject({
      method: "GET",
      url: "/v1/thing",
      headers: headers as unknown as Record<string, string>,
    });
    expect(res.statusCode).toBe(503);
    await edge.app.close();
  }, 10_000);
});

describe("a route's reads (config.reads)", () => {
  const keys = generateEd25519KeyPair();
  const keyid = toBase64url(keys.publicKey);
  const principal = {
    signPub: keyid,
    kexPub: keyid,
    tenant: "acme",
    role: "member" as const,
    scopes: [],
    status: "active" as const,
  };
  const declared: RouteReads<string> = async (_request, signer) => `read for ${signer.keyid.slice(0, 4)}`;
  const other: RouteReads<string> = async () => "never declared";
  const failing: RouteReads<string> = async () => {
    throw new ApiError("not_found", "no such thing");
  };
  let edge: Edge;

  beforeAll(async () => {
    edge = createEdge({ service: "test", logger: false, ready: async () => true });
    const claims = new Set<string>();
    const deps: AuthenticatorDeps = {
      policy: conclavePolicy(Date.now),
      keyCache: new PublicKeyCache(),
      lookupUser: async (signPub) => (signPub === keyid ? principal : undefined),
      nonces: {
        create: async (key) => {
          if (claims.has(key)) throw Object.assign(new Error("exists"), { name: "ConflictError" });
          claims.add(key);
          return claims.size;
        },
      },
    };
    registerSignedRequestAuth(edge.app, deps, { mode: "enforce" });
    const config = (reads: RouteReads<string>) => ({ config: { body: "none" as const, reads } });
    edge.app.get("/v1/declared", config(declared), async (request) => ({ got: prefetched(request, declared) }));
    edge.app.get("/v1/mismatch", config(declared), async (request) => ({ got: prefetched(request, other) }));
    edge.app.get("/v1/failing", config(failing), async (request) => ({ got: prefetched(request, failing) }));
    await edge.app.ready();
  });
  afterAll(() => edge.app.close());

  const get = (url: string) =>
    edge.app.inject({
      method: "GET",
      url,
      headers: signRequest({ method: "GET", url, secretKey: keys.secretKey, keyid }) as unknown as Record<
        string,
        string
      >,
    });

  it("the route gets what its declared reads returned before the claim", async () => {
    expect((await get("/v1/declared")).json()).toEqual({ got: `read for ${keyid.slice(0, 4)}` });
  });

  it("a route taking reads it did not declare answers 500, never data", async () => {
    const res = await get("/v1/mismatch");
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain("never declared");
  });

  it("a read's own refusal is the route's answer, after the signer was admitted", async () => {
    expect((await get("/v1/failing")).statusCode).toBe(404);
  });
});
