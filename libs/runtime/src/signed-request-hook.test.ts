import { type AuthenticatorDeps, conclavePolicy, PublicKeyCache } from "@conclave/auth";
import { createEdge, type Edge } from "@conclave/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerSignedRequestAuth } from "./signed-request-hook.ts";

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
    registerSignedRequestAuth(edge.app, deps, "enforce");
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
