import { generateEd25519KeyPair, toBase64url } from "@conclave/auth";
import { describe, expect, it } from "vitest";
import type { Caller } from "./access/caller.ts";
import { loadGatewayConfig } from "./gateway-config.ts";
import { applyBudgetOps } from "./limits/budget-state.ts";
import { effectivePlan, planRequestSchema } from "./limits/tenant-plans.ts";
import { RpcFailure, routeCall } from "./rpc/rpc-router.ts";

// Issue 15: `tier: "constructor"` was found on Object.prototype and broke a tenant.
// Every table of the gateway that input names is fed the prototype's own keys.
const PROTOTYPE_KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

const key = toBase64url(generateEd25519KeyPair().secretKey);
const config = loadGatewayConfig({
  CONCLAVE_GATEWAY_JWT_KEY: key,
  CONCLAVE_GATEWAY_TENANT_TIERS: "acme=pro",
  CONCLAVE_GATEWAY_METHODS: JSON.stringify({ "echo.say": { kind: "read", input: 1 } }),
});

describe("tables looked up by input ignore Object.prototype", () => {
  it.each(PROTOTYPE_KEYS)("budget request tier %s is refused (400 names the field)", (tier) => {
    const parsed = planRequestSchema(config).safeParse({ input: 1, output: 1, tier });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(["tier"]);
    expect(planRequestSchema(config).parse({ input: 1, output: 1, tier: "pro" }).tier).toBe("pro");
  });

  it.each(PROTOTYPE_KEYS)("a stored tier or a tenant named %s gets the default tier, a number", (name) => {
    for (const plan of [{ input: 1, output: 1, tier: name }, undefined]) {
      const effective = effectivePlan(config, name, plan);
      expect(effective).toMatchObject({ tier: "free", requestsPerWindow: 20 });
    }
    expect(effectivePlan(config, "acme", undefined)).toMatchObject({ tier: "pro", requestsPerWindow: 300 });
  });

  it.each(PROTOTYPE_KEYS)("configuration naming tier %s fails at start", (tier) => {
    expect(() => loadGatewayConfig({ CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_DEFAULT_TIER: tier })).toThrow(
      /CONCLAVE_GATEWAY_DEFAULT_TIER/,
    );
    expect(() =>
      loadGatewayConfig({ CONCLAVE_GATEWAY_JWT_KEY: key, CONCLAVE_GATEWAY_TENANT_TIERS: `a=${tier}` }),
    ).toThrow(/CONCLAVE_GATEWAY_TENANT_TIERS/);
  });

  it.each(PROTOTYPE_KEYS)("RPC method %s is no method: refused before any reservation", async (method) => {
    const caller: Caller = {
      credential: "signed",
      principal: { signPub: "x", tenant: "acme", role: "member", scopes: ["rpc:call"] } as Caller["principal"],
    };
    const ledger = {
      reserve: () => {
        throw new Error("must not reserve");
      },
    };
    const call = routeCall(
      { method, params: {}, caller, plan: effectivePlan(config, "acme", undefined), requestId: "r" },
      { nc: {} as never, ledger: ledger as never, methods: config.rpc.methods, log: console },
    );
    await expect(call).rejects.toBeInstanceOf(RpcFailure);
    await expect(call).rejects.toMatchObject({ code: "method_not_found" });
  });

  it.each(PROTOTYPE_KEYS)("a reservation id %s is reserved, not mistaken for a live one", (id) => {
    const limits = { input: 100, output: 100 };
    const { next, results } = applyBudgetOps(
      undefined,
      [{ kind: "reserve", id, estimate: { input: 10, output: 0 }, limits, leaseMs: 5_000 }],
      1_000,
      86_400,
    );
    expect(results).toEqual([{ ok: true }]);
    expect(Object.hasOwn(next?.reservations ?? {}, id)).toBe(true);
  });
});
