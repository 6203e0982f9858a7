import { generateEd25519KeyPair, toBase64url } from "@conclave/auth";
import { describe, expect, it } from "vitest";
import { DEFAULT_TIERS, loadGatewayConfig } from "./gateway-config.ts";

const key = toBase64url(generateEd25519KeyPair().secretKey);

describe("gateway configuration", () => {
  it("defaults: EdDSA, 1 h tokens at most 24 h, the spec's tiers, an empty catalogue", () => {
    const c = loadGatewayConfig({ CONCLAVE_GATEWAY_JWT_KEY: key });
    expect(c.jwt).toMatchObject({ alg: "EdDSA", defaultTtlS: 3600, maxTtlS: 86_400, issuer: "conclave" });
    expect(c.rate).toMatchObject({
      tiers: new Map(Object.entries(DEFAULT_TIERS)),
      defaultTier: "free",
      windowMs: 60_000,
    });
    expect(DEFAULT_TIERS).toEqual({ free: 20, hobby: 60, pro: 300, enterprise: 1000 });
    expect(c.rpc.methods).toEqual(new Map());
  });

  it("reads the method catalogue and tenant tiers", () => {
    const c = loadGatewayConfig({
      CONCLAVE_GATEWAY_JWT_KEY: key,
      CONCLAVE_GATEWAY_METHODS: JSON.stringify({ "echo.say": { kind: "read", input: 2 } }),
      CONCLAVE_GATEWAY_TENANT_TIERS: "acme=pro, beta=hobby",
    });
    expect(c.rpc.methods.get("echo.say")).toEqual({
      kind: "read",
      cost: { input: 2, output: 0 },
      timeoutMs: 30_000,
      description: undefined,
    });
    expect(c.rate.tenantTiers).toEqual(
      new Map([
        ["acme", "pro"],
        ["beta", "hobby"],
      ]),
    );
  });

  it("a bad value fails fast naming the variable", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{}, /CONCLAVE_GATEWAY_JWT_KEY: required/],
      [{ CONCLAVE_GATEWAY_JWT_KEY: "AAAA" }, /CONCLAVE_GATEWAY_JWT_KEY: EdDSA needs/],
      [{ CONCLAVE_GATEWAY_JWT_ALG: "HS256", CONCLAVE_GATEWAY_JWT_KEY: "AAAA" }, /at least 32 bytes/],
      [{ CONCLAVE_GATEWAY_JWT_ALG: "none", CONCLAVE_GATEWAY_JWT_KEY: key }, /CONCLAVE_GATEWAY_JWT_ALG/],
      [
        { CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_TOKEN_MAX_TTL_S: "90000" },
        /CONCLAVE_GATEWAY_TOKEN_MAX_TTL_S/,
      ],
      [
        {
          CONCLAVE_GATEWAY_JWT_KEY: key,
          CONCLAVE_GATEWAY_TOKEN_TTL_S: "7200",
          CONCLAVE_GATEWAY_TOKEN_MAX_TTL_S: "3600",
        },
        /TOKEN_TTL_S/,
      ],
      [{ CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_DEFAULT_TIER: "gold" }, /CONCLAVE_GATEWAY_DEFAULT_TIER/],
      [{ CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_TENANT_TIERS: "acme=gold" }, /CONCLAVE_GATEWAY_TENANT_TIERS/],
      [{ CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_TENANT_TIERS: "../x=pro" }, /CONCLAVE_GATEWAY_TENANT_TIERS/],
      [{ CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_METHODS: "{" }, /CONCLAVE_GATEWAY_METHODS: must be JSON/],
      [
        { CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_METHODS: '{"x.*": {"kind": "read"}}' },
        /CONCLAVE_GATEWAY_METHODS/,
      ],
      [{ CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_RATE_WINDOW_MS: "120000" }, /CONCLAVE_GATEWAY_RATE_WINDOW_MS/],
      [{ CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_LEASE_MS: "5000" }, /CONCLAVE_GATEWAY_LEASE_MS/],
    ];
    for (const [env, message] of bad) expect(() => loadGatewayConfig(env)).toThrow(message);
  });

  it("an ephemeral key is used only when offered (loopback binds) and no key is configured", () => {
    const c = loadGatewayConfig({}, { ephemeralKey: () => generateEd25519KeyPair().secretKey });
    expect(c.jwt.key.byteLength).toBe(64);
  });
});
