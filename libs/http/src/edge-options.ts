import type { FastifyBaseLogger } from "fastify";
import { Registry } from "prom-client";
import { z } from "zod";

// The edge's configuration, validated once at start: a bad value fails fast
// with the path of the offending field instead of surfacing as odd behaviour later.

const KiB = 1024;
const MiB = 1024 * KiB;

const positiveInt = z.number().int().positive();

const perIpSchema = z.object({
  ratePerSecond: z.number().positive().default(50),
  burst: positiveInt.default(100),
  /** Bound on remembered IPs, so a spray of source addresses cannot grow memory without limit. */
  maxTrackedIps: positiveInt.default(100_000),
});

const limitsSchema = z
  .object({
    jsonBodyBytes: positiveInt.default(MiB),
    blobBodyBytes: positiveInt.default(16 * MiB),
    inflightBytes: positiveInt.default(128 * MiB),
    perIp: perIpSchema.prefault({}),
    maxHeaderBytes: positiveInt.default(16 * KiB),
    // Longest path parameter: a 64-hex sha256 or a 43-char sign_pub fits with room to spare.
    maxParamLength: positiveInt.default(128),
    headersTimeoutMs: positiveInt.default(10_000),
    requestTimeoutMs: positiveInt.default(60_000),
    keepAliveTimeoutMs: positiveInt.default(5_000),
  })
  // A ceiling above the cap could never be reserved: every such request would be shed.
  .refine((l) => l.jsonBodyBytes <= l.inflightBytes && l.blobBodyBytes <= l.inflightBytes, {
    message: "body ceilings must not exceed the in-flight cap",
    path: ["inflightBytes"],
  })
  // Node refuses a headers timeout longer than the request timeout.
  .refine((l) => l.headersTimeoutMs <= l.requestTimeoutMs, {
    message: "must not exceed requestTimeoutMs",
    path: ["headersTimeoutMs"],
  });

const loggerSchema = z.custom<FastifyBaseLogger | false>(
  (v) =>
    v === false ||
    (typeof v === "object" &&
      v !== null &&
      typeof (v as { info?: unknown }).info === "function" &&
      typeof (v as { child?: unknown }).child === "function"),
  { message: "expected a pino logger or false" },
);

// As fastify takes it: false (default: the socket address is the client), true, or trusted proxy addresses/CIDRs.
const trustProxySchema = z.union([z.boolean(), z.string(), z.array(z.string())]);

const optionsSchema = z.object({
  /** Service name, used as the `service` label of every metric. */
  service: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, "lowercase letters, digits, _ and -"),
  /** Readiness of the service's dependencies (JetStream): answered by /readyz. */
  ready: z.custom<() => Promise<boolean>>((v) => typeof v === "function", { message: "expected a function" }),
  readyTimeoutMs: positiveInt.default(2_000),
  logger: loggerSchema.default(false),
  registry: z.custom<Registry>((v) => v instanceof Registry, { message: "expected a prom-client Registry" }).optional(),
  trustProxy: trustProxySchema.default(false),
  limits: limitsSchema.prefault({}),
  /** Only for the test that proves the limiter is a real guard: accounts, never sheds. */
  inflightLimiterEnabled: z.boolean().default(true),
  /** Milliseconds since the epoch; tests pass a fake clock. */
  now: z
    .custom<() => number>((v) => typeof v === "function", { message: "expected a function" })
    .default(() => Date.now),
});

export type EdgeOptions = z.input<typeof optionsSchema>;
export type ResolvedEdgeOptions = z.output<typeof optionsSchema>;
export type EdgeLimits = ResolvedEdgeOptions["limits"];

/** Validates options and fills defaults; throws an Error naming every bad field. */
export function resolveEdgeOptions(input: EdgeOptions): ResolvedEdgeOptions {
  const parsed = optionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`);
  throw new Error(`invalid edge options: ${problems.join("; ")}`);
}
