import { ApiError } from "@conclave/protocol";
import { describe, expect, it } from "vitest";
import { signingFixture } from "../test-support/signed-request-fixture.ts";
import { type AuthenticatorDeps, authenticate, type Principal, readInTenant } from "./authenticate.ts";
import type { NonceClaim } from "./nonce-guard.ts";

// The pipeline's order and fail-closed rules, with in-memory stand-ins for the
// allowlist and nonce bucket (the real ones are exercised against NATS in test/).
function setup(user?: Partial<Principal>) {
  const f = signingFixture();
  const claims = new Map<string, NonceClaim>();
  const principal: Principal = f.principal(user);
  const deps: AuthenticatorDeps = {
    policy: f.policy,
    keyCache: f.deps.keyCache,
    lookupUser: async (signPub) => (signPub === principal.signPub ? principal : undefined),
    nonces: {
      async create(key, value) {
        if (claims.has(key)) throw Object.assign(new Error("exists"), { name: "ConflictError" });
        claims.set(key, value);
        return claims.size;
      },
    },
  };
  return { f, deps, claims };
}

async function reason(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  const api = err as ApiError;
  return `${api.status}:${api.reason ?? api.code}`;
}

describe("authenticate", () => {
  it("admits an active user once and rejects the replay", async () => {
    const { f, deps } = setup();
    const req = f.signed({ method: "GET", url: "/v1/me/rooms" });
    const ok = await authenticate(req, deps);
    expect(ok.principal.tenant).toBe("acme");
    expect(await reason(authenticate(req, deps))).toBe("401:replay");
  });

  it("an unregistered key with a valid signature is refused and claims no nonce", async () => {
    const { f, deps, claims } = setup({ signPub: "someone-else" });
    expect(await reason(authenticate(f.signed({ method: "GET" }), deps))).toBe("401:unknown_signer");
    expect(claims.size).toBe(0);
  });

  it("a revoked user is refused and claims no nonce", async () => {
    const { f, deps, claims } = setup({ status: "revoked" });
    expect(await reason(authenticate(f.signed({ method: "GET" }), deps))).toBe("401:revoked_signer");
    expect(claims.size).toBe(0);
  });

  it("a bad signature never reaches the allowlist", async () => {
    const { f, deps } = setup();
    let lookups = 0;
    deps.lookupUser = async () => {
      lookups++;
      return undefined;
    };
    const req = f.signed({ method: "GET" });
    req.url = "/v1/other";
    expect(await reason(authenticate(req, deps))).toBe("401:bad_signature");
    expect(lookups).toBe(0);
  });

  it("an allowlist that cannot answer denies with 503, never allows", async () => {
    const { f, deps, claims } = setup();
    deps.lookupUser = async () => {
      throw Object.assign(new Error("timeout"), { name: "UnavailableError" });
    };
    expect(await reason(authenticate(f.signed({ method: "GET" }), deps))).toBe("503:unavailable");
    expect(claims.size).toBe(0);
  });

  it("a nonce store that cannot answer denies with 503, never allows", async () => {
    const { f, deps } = setup();
    deps.nonces = {
      create: async () => {
        throw Object.assign(new Error("no quorum"), { name: "UnavailableError" });
      },
    };
    expect(await reason(authenticate(f.signed({ method: "GET" }), deps))).toBe("503:unavailable");
  });

  it("a streamed body must be covered by content-digest", async () => {
    const { f, deps } = setup();
    const req = f.signed({ method: "PUT", url: "/v1/blobs/abc" });
    expect(await reason(authenticate({ ...req, streamedBody: true }, deps))).toBe("401:missing_digest");
  });

  it("the route's reads go out with the allowlist read and have returned before the nonce claim is sent", async () => {
    const { f, deps } = setup();
    const order: string[] = [];
    const lookup = deps.lookupUser;
    deps.lookupUser = async (signPub) => {
      order.push("allowlist read sent");
      await Promise.resolve();
      return lookup(signPub);
    };
    const create = deps.nonces.create.bind(deps.nonces);
    deps.nonces.create = (key, value) => {
      order.push("claim sent");
      return create(key, value);
    };
    const ok = await authenticate(f.signed({ method: "GET" }), deps, async ({ keyid, principal }) => {
      order.push("route read sent");
      await new Promise((r) => setTimeout(r, 20));
      order.push("route read returned");
      return { keyid, tenant: (await principal)?.tenant };
    });
    expect(order).toEqual(["allowlist read sent", "route read sent", "route read returned", "claim sent"]);
    expect(ok.reads).toEqual({ value: { keyid: ok.principal.signPub, tenant: "acme" } });
  });

  it("a failed route read is the route's to answer: the signer is still authenticated, the error kept", async () => {
    const { f, deps } = setup();
    const failure = Object.assign(new Error("no quorum"), { name: "UnavailableError" });
    const ok = await authenticate(f.signed({ method: "GET" }), deps, async () => {
      throw failure;
    });
    expect(ok.reads).toEqual({ error: failure });
  });

  it("an unknown signer is denied without a claim whatever the route read", async () => {
    const { f, deps, claims } = setup();
    deps.lookupUser = async () => undefined;
    const denied = authenticate(f.signed({ method: "GET" }), deps, async ({ principal }) => (await principal)?.tenant);
    expect(await reason(denied)).toBe("401:unknown_signer");
    expect(claims.size).toBe(0);
  });

  it("a tenant-scoped read goes out at once under the signer's last tenant, and again if the allowlist names another", async () => {
    const principal = Promise.resolve({ tenant: "acme" } as Principal);
    const reads: string[] = [];
    const read = async (caller: { tenant: string }) => {
      reads.push(caller.tenant);
      return caller.tenant;
    };
    expect(await readInTenant({ keyid: "k", tenantHint: "acme", principal }, read)).toBe("acme");
    expect(reads).toEqual(["acme"]);
    expect(await readInTenant({ keyid: "k", tenantHint: "moved", principal }, read)).toBe("acme");
    expect(reads).toEqual(["acme", "moved", "acme"]);
    expect(await readInTenant({ keyid: "k", tenantHint: undefined, principal }, read)).toBe("acme");
    const unknown = Promise.resolve(undefined);
    expect(await readInTenant({ keyid: "k", tenantHint: "acme", principal: unknown }, async () => "x")).toBeUndefined();
  });

  it("the signer's tenant is the hint of its next request", async () => {
    const { f, deps } = setup();
    const hints: (string | undefined)[] = [];
    const reads = async ({ tenantHint }: { tenantHint: string | undefined }) => hints.push(tenantHint);
    await authenticate(f.signed({ method: "GET" }), deps, reads);
    await authenticate(f.signed({ method: "GET" }), deps, reads);
    expect(hints).toEqual([undefined, "acme"]);
  });
});
