import { ASSETS, type AssetKey } from "@conclave/store";
import { z } from "zod";

const MiB = 1024 * 1024;
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * A service's configuration, from environment variables only (12-factor), all
 * validated at start: a bad value stops the process with the variable's name.
 */
export const serviceEnvSchema = z.object({
  /** Comma-separated NATS URLs of the cluster. */
  CONCLAVE_NATS_URLS: z
    .string()
    .min(1)
    .transform((s) => s.split(",").map((u) => u.trim()))
    .pipe(z.array(z.string().regex(/^(nats|tls):\/\/[^\s,]+$/, "must be nats:// or tls:// URLs")).min(1)),
  CONCLAVE_HOST: z.string().min(1).default("127.0.0.1"),
  CONCLAVE_PORT: int(0, 65535).default(7420),
  /** Replicas of buckets and streams this service provisions: 3 in production. */
  CONCLAVE_REPLICAS: int(1, 5).default(3),
  /** This process's NATS user nkey seed ("SU…"), or a file holding it; neither: connect without credentials. */
  CONCLAVE_NATS_SEED: z
    .string()
    .regex(/^SU[A-Z2-7]{56}$/, "must be a user nkey seed (SU…)")
    .optional(),
  CONCLAVE_NATS_SEED_FILE: z.string().min(1).optional(),
  CONCLAVE_OP_TIMEOUT_MS: int(100, 60_000).default(2_000),
  CONCLAVE_AUTH_MODE: z.enum(["off", "soft", "enforce"]).default("enforce"),
  /**
   * The origin clients address, e.g. https://conclave.example.com: what signed
   * @scheme / @authority / @target-uri are checked against (docs/auth.md).
   * Unset: the connection's scheme and the Host field.
   */
  CONCLAVE_PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .refine(
      (u) => URL.canParse(u) && new URL(u).pathname === "/" && !/[?#]/.test(u),
      "must be an origin: scheme://host[:port]",
    )
    .transform((u) => {
      const url = new URL(u);
      return { scheme: url.protocol.slice(0, -1), authority: url.host };
    })
    .optional(),
  CONCLAVE_JSON_BODY_BYTES: int(1024, 64 * MiB).default(MiB),
  CONCLAVE_BLOB_BODY_BYTES: int(1024, 1024 * MiB).default(16 * MiB),
  /** Per tenant: blob bytes and blobs stored (services/blob, docs/blobs.md "Quotas"). */
  CONCLAVE_BLOB_QUOTA_BYTES: int(0, Number.MAX_SAFE_INTEGER).default(512 * MiB),
  CONCLAVE_BLOB_QUOTA_COUNT: int(0, 100_000_000).default(10_000),
  CONCLAVE_INFLIGHT_BYTES: int(MiB, 64 * 1024 * MiB).default(128 * MiB),
  CONCLAVE_IP_RATE_PER_S: int(1, 1_000_000).default(50),
  CONCLAVE_IP_BURST: int(1, 1_000_000).default(100),
  /**
   * Byte limits overriding the catalogue's (docs/store.md, "Bounds"): `nonces=134217728,events=2147483648`.
   * Names are the catalogue's asset keys, checked as an enum (never looked up in an object).
   */
  CONCLAVE_STORE_MAX_BYTES: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => p.split("=") as [string, string]),
    )
    .pipe(
      z.array(
        z.tuple([
          z.enum(Object.keys(ASSETS) as [AssetKey, ...AssetKey[]]),
          z
            .string()
            .regex(/^\d{1,16}$/)
            .transform(Number)
            .pipe(z.number().int().min(MiB).safe()),
        ]),
      ),
    )
    .transform((pairs) => new Map<AssetKey, number>(pairs))
    .default(new Map()),
  CONCLAVE_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Instance name in logs and NATS connection names; the host name by default. */
  CONCLAVE_INSTANCE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
});

export type ServiceEnv = z.infer<typeof serviceEnvSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment; throws ConfigError listing every bad variable by name. */
export function loadServiceEnv(env: NodeJS.ProcessEnv = process.env): ServiceEnv {
  const parsed = serviceEnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n  ${lines.join("\n  ")}`);
}

/** True for addresses only this machine can reach (cleartext rooms are refused elsewhere). */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
