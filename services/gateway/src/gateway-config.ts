import { readFileSync } from "node:fs";
import { fromBase64url } from "@conclave/auth";
import { rpcMethodName, TENANT_PATTERN, tierName } from "@conclave/protocol";
import { MAX_TOKEN_LIFETIME_MS } from "@conclave/store";
import { z } from "zod";

/** Whether a method only reads (any `rpc:read` or `rpc:call` token) or changes something (`rpc:call` only). */
export type MethodKind = "read" | "mutation";

export interface MethodSpec {
  kind: MethodKind;
  /** Estimated units of one call: reserved against the budget before the call runs. */
  cost: { input: number; output: number };
  timeoutMs: number;
  description?: string | undefined;
}

export interface GatewayConfig {
  jwt: {
    alg: "EdDSA" | "HS256";
    /** EdDSA: 64-byte tweetnacl secret key (seed ‖ public); HS256: the shared secret (≥ 32 bytes). */
    key: Uint8Array;
    /** Extra EdDSA public keys still accepted (rotation): 32 bytes each. */
    verifyKeys: Uint8Array[];
    issuer: string;
    defaultTtlS: number;
    maxTtlS: number;
  };
  budget: { periodS: number; defaults: { input: number; output: number }; leaseMs: number };
  rate: {
    windowMs: number;
    /** Requests per window by tier. Maps, not objects: tier names arrive in requests ("constructor", issue 15). */
    tiers: ReadonlyMap<string, number>;
    defaultTier: string;
    /** Tiers from configuration; a tenant's plan set by an admin overrides it. */
    tenantTiers: ReadonlyMap<string, string>;
  };
  /** Looked up by the method name of each RPC envelope: a Map, so no prototype key can name a method. */
  rpc: { timeoutMs: number; methods: ReadonlyMap<string, MethodSpec> };
}

export const DEFAULT_TIERS: Readonly<Record<string, number>> = { free: 20, hobby: 60, pro: 300, enterprise: 1000 };

const MAX_TTL_S = MAX_TOKEN_LIFETIME_MS / 1000;
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const units = z.number().int().nonnegative().safe();

const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);

const methodSpec = z
  .object({
    kind: z.enum(["read", "mutation"]),
    input: units.default(0),
    output: units.default(0),
    timeout_ms: z.number().int().min(50).max(600_000).optional(),
    description: z.string().max(256).optional(),
  })
  .strict();

const methodTable = z.record(rpcMethodName, methodSpec);

const b64 = z.string().refine((s) => fromBase64url(s) !== undefined, "must be unpadded base64url");

export const gatewayEnvSchema = z.object({
  CONCLAVE_GATEWAY_JWT_ALG: z.enum(["EdDSA", "HS256"]).default("EdDSA"),
  CONCLAVE_GATEWAY_JWT_KEY: b64.optional(),
  CONCLAVE_GATEWAY_JWT_VERIFY_KEYS: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((k) => k.trim())
        .filter(Boolean),
    )
    .pipe(z.array(b64.refine((k) => fromBase64url(k)?.byteLength === 32, "must be 32-byte Ed25519 public keys")))
    .default([]),
  CONCLAVE_GATEWAY_JWT_ISSUER: z.string().min(1).max(128).default("conclave"),
  CONCLAVE_GATEWAY_TOKEN_TTL_S: int(1, MAX_TTL_S).default(3600),
  CONCLAVE_GATEWAY_TOKEN_MAX_TTL_S: int(1, MAX_TTL_S).default(MAX_TTL_S),
  CONCLAVE_GATEWAY_BUDGET_PERIOD_S: int(60, 366 * 86_400).default(30 * 86_400),
  CONCLAVE_GATEWAY_BUDGET_INPUT: int(0, Number.MAX_SAFE_INTEGER).default(1_000_000),
  CONCLAVE_GATEWAY_BUDGET_OUTPUT: int(0, Number.MAX_SAFE_INTEGER).default(1_000_000),
  CONCLAVE_GATEWAY_LEASE_MS: int(1_000, 3_600_000).default(120_000),
  CONCLAVE_GATEWAY_RPC_TIMEOUT_MS: int(50, 600_000).default(30_000),
  // The ratelimits bucket keeps an idle key 2 min: a window must fit twice in it.
  CONCLAVE_GATEWAY_RATE_WINDOW_MS: int(1_000, 60_000).default(60_000),
  CONCLAVE_GATEWAY_TIERS: json(z.record(tierName, z.number().int().min(1).max(1_000_000))).default(DEFAULT_TIERS),
  CONCLAVE_GATEWAY_DEFAULT_TIER: tierName.default("free"),
  CONCLAVE_GATEWAY_TENANT_TIERS: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(new RegExp(`^${TENANT_PATTERN.source.slice(1, -1)}=[a-z][a-z0-9_-]{0,31}$`))))
    .transform((pairs) => new Map(pairs.map((p) => p.split("=") as [string, string])))
    .default(new Map()),
  CONCLAVE_GATEWAY_METHODS: json(methodTable).optional(),
  CONCLAVE_GATEWAY_METHODS_FILE: z.string().min(1).optional(),
});

export class GatewayConfigError extends Error {
  override readonly name = "GatewayConfigError";
}

/**
 * The gateway's configuration from `CONCLAVE_GATEWAY_*` variables, validated
 * at start: a bad value stops the process naming the variable. Without a JWT
 * key, `ephemeralKey` (loopback binds only, see main) supplies one.
 */
export function loadGatewayConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: { ephemeralKey?: (alg: GatewayConfig["jwt"]["alg"]) => Uint8Array } = {},
): GatewayConfig {
  const parsed = gatewayEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new GatewayConfigError(`invalid gateway configuration:\n  ${lines.join("\n  ")}`);
  }
  const e = parsed.data;
  const fail = (variable: string, message: string): never => {
    throw new GatewayConfigError(`invalid gateway configuration:\n  ${variable}: ${message}`);
  };

  let key: Uint8Array;
  if (e.CONCLAVE_GATEWAY_JWT_KEY) key = fromBase64url(e.CONCLAVE_GATEWAY_JWT_KEY) as Uint8Array;
  else if (opts.ephemeralKey) key = opts.ephemeralKey(e.CONCLAVE_GATEWAY_JWT_ALG);
  else return fail("CONCLAVE_GATEWAY_JWT_KEY", "required (every replica must sign and verify with the same key)");
  if (e.CONCLAVE_GATEWAY_JWT_ALG === "EdDSA" && key.byteLength !== 64) {
    fail("CONCLAVE_GATEWAY_JWT_KEY", "EdDSA needs a 64-byte Ed25519 secret key (seed ‖ public, as in key files)");
  }
  if (e.CONCLAVE_GATEWAY_JWT_ALG === "HS256" && key.byteLength < 32) {
    fail("CONCLAVE_GATEWAY_JWT_KEY", "HS256 needs a secret of at least 32 bytes");
  }
  if (e.CONCLAVE_GATEWAY_TOKEN_TTL_S > e.CONCLAVE_GATEWAY_TOKEN_MAX_TTL_S) {
    fail("CONCLAVE_GATEWAY_TOKEN_TTL_S", "must not exceed CONCLAVE_GATEWAY_TOKEN_MAX_TTL_S");
  }
  const tiers = new Map(Object.entries(e.CONCLAVE_GATEWAY_TIERS));
  if (!tiers.has(e.CONCLAVE_GATEWAY_DEFAULT_TIER)) {
    fail("CONCLAVE_GATEWAY_DEFAULT_TIER", `not one of the tiers (${[...tiers.keys()].join(", ")})`);
  }
  for (const [tenant, tier] of e.CONCLAVE_GATEWAY_TENANT_TIERS) {
    if (!tiers.has(tier)) fail("CONCLAVE_GATEWAY_TENANT_TIERS", `${tenant}: unknown tier ${tier}`);
  }

  let rawMethods = e.CONCLAVE_GATEWAY_METHODS ?? {};
  if (e.CONCLAVE_GATEWAY_METHODS_FILE) {
    const fromFile = json(methodTable).safeParse(readFileSync(e.CONCLAVE_GATEWAY_METHODS_FILE, "utf8"));
    if (!fromFile.success) {
      const issue = fromFile.error.issues[0];
      fail("CONCLAVE_GATEWAY_METHODS_FILE", `${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
    } else rawMethods = { ...rawMethods, ...fromFile.data };
  }
  const methods = new Map<string, MethodSpec>();
  for (const [name, m] of Object.entries(rawMethods)) {
    const timeoutMs = m.timeout_ms ?? e.CONCLAVE_GATEWAY_RPC_TIMEOUT_MS;
    // A reservation must outlive the call it covers, or a slow call would run unreserved.
    if (timeoutMs + 1_000 > e.CONCLAVE_GATEWAY_LEASE_MS) {
      fail("CONCLAVE_GATEWAY_LEASE_MS", `must exceed ${name}'s timeout (${timeoutMs} ms) by at least 1 s`);
    }
    methods.set(name, {
      kind: m.kind,
      cost: { input: m.input, output: m.output },
      timeoutMs,
      description: m.description,
    });
  }
  if (e.CONCLAVE_GATEWAY_RPC_TIMEOUT_MS + 1_000 > e.CONCLAVE_GATEWAY_LEASE_MS) {
    fail("CONCLAVE_GATEWAY_LEASE_MS", "must exceed CONCLAVE_GATEWAY_RPC_TIMEOUT_MS by at least 1 s");
  }

  return {
    jwt: {
      alg: e.CONCLAVE_GATEWAY_JWT_ALG,
      key,
      verifyKeys: e.CONCLAVE_GATEWAY_JWT_VERIFY_KEYS.map((k) => fromBase64url(k) as Uint8Array),
      issuer: e.CONCLAVE_GATEWAY_JWT_ISSUER,
      defaultTtlS: e.CONCLAVE_GATEWAY_TOKEN_TTL_S,
      maxTtlS: e.CONCLAVE_GATEWAY_TOKEN_MAX_TTL_S,
    },
    budget: {
      periodS: e.CONCLAVE_GATEWAY_BUDGET_PERIOD_S,
      defaults: { input: e.CONCLAVE_GATEWAY_BUDGET_INPUT, output: e.CONCLAVE_GATEWAY_BUDGET_OUTPUT },
      leaseMs: e.CONCLAVE_GATEWAY_LEASE_MS,
    },
    rate: {
      windowMs: e.CONCLAVE_GATEWAY_RATE_WINDOW_MS,
      tiers,
      defaultTier: e.CONCLAVE_GATEWAY_DEFAULT_TIER,
      tenantTiers: e.CONCLAVE_GATEWAY_TENANT_TIERS,
    },
    rpc: { timeoutMs: e.CONCLAVE_GATEWAY_RPC_TIMEOUT_MS, methods },
  };
}
