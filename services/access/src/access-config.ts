import { readFileSync } from "node:fs";
import { z } from "zod";

const KiB = 1024;
const MiB = 1024 * KiB;
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const ACCOUNT_SEED = /^SA[A-Z2-7]{56}$/;

export interface AccessConfig {
  /** The callout issuer's account nkey seed ("SA…"): the server trusts responses signed by its public key. */
  issuerSeed: string;
  /** The account bots are admitted into (the server's allowed_accounts). */
  account: string;
  /** Queue group on $SYS.REQ.USER.AUTH: replicas share the callouts. */
  queue: string;
  /** Lifetime of an admission: the server disconnects the bot then and the callout runs again. */
  ttlS: number;
  /** Bound of the whole decision (store reads and witness); must stay below the server's auth timeout. */
  decisionMs: number;
  /** Admissions reading the store at once; the rest wait their turn within their decision time. */
  maxInflight: number;
  /** Admissions waiting for a turn; one more is answered "busy" at once (the client retries) rather than queued to time out. */
  maxQueued: number;
  /** A bot in more rooms than this is refused rather than handed an unbounded permission list. */
  maxRooms: number;
  limits: { subs: number; payload: number; data: number };
}

export const accessEnvSchema = z.object({
  CONCLAVE_ACCESS_ISSUER_SEED: z.string().regex(ACCOUNT_SEED, "must be an account nkey seed (SA…)").optional(),
  CONCLAVE_ACCESS_ISSUER_SEED_FILE: z.string().min(1).optional(),
  CONCLAVE_ACCESS_ACCOUNT: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default("BOTS"),
  CONCLAVE_ACCESS_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default("conclave-access"),
  CONCLAVE_ACCESS_TTL_S: int(10, 86_400).default(600),
  // nats-server waits authorization.timeout (2 s by default) for the callout: answer before it gives up.
  CONCLAVE_ACCESS_DECISION_MS: int(100, 10_000).default(1_500),
  CONCLAVE_ACCESS_MAX_INFLIGHT: int(1, 10_000).default(32),
  CONCLAVE_ACCESS_MAX_QUEUED: int(0, 100_000).default(64),
  // Measured (admission-token.test.ts): 151 B of answer per room of the usual subject, 889 B for
  // the longest (256 chars); 1,024 rooms of the longest still fit max_payload (1 MiB), and an
  // answer that does not fit is refused whatever this says (admission-token.ts).
  CONCLAVE_ACCESS_MAX_ROOMS: int(1, 10_000).default(1_024),
  // A bot subscribed to each of its rooms, its inbox and a few more: twice the room bound.
  CONCLAVE_ACCESS_MAX_SUBS: int(1, 1_000_000).default(2_048),
  CONCLAVE_ACCESS_MAX_PAYLOAD: int(KiB, 64 * MiB).default(MiB),
  // Bytes a connection may have pending to it on the server; -1 would be unlimited.
  CONCLAVE_ACCESS_MAX_DATA: int(MiB, 1024 * MiB).default(64 * MiB),
});

export class AccessConfigError extends Error {
  override readonly name = "AccessConfigError";
}

/** The callout's configuration from `CONCLAVE_ACCESS_*` variables, validated at start, naming the bad variable. */
export function loadAccessConfig(env: NodeJS.ProcessEnv = process.env): AccessConfig {
  const parsed = accessEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new AccessConfigError(`invalid access configuration:\n  ${lines.join("\n  ")}`);
  }
  const e = parsed.data;
  const fail = (variable: string, message: string): never => {
    throw new AccessConfigError(`invalid access configuration:\n  ${variable}: ${message}`);
  };
  if (e.CONCLAVE_ACCESS_ISSUER_SEED && e.CONCLAVE_ACCESS_ISSUER_SEED_FILE) {
    fail("CONCLAVE_ACCESS_ISSUER_SEED_FILE", "set either it or CONCLAVE_ACCESS_ISSUER_SEED");
  }
  let issuerSeed = e.CONCLAVE_ACCESS_ISSUER_SEED;
  if (e.CONCLAVE_ACCESS_ISSUER_SEED_FILE) {
    try {
      issuerSeed = readFileSync(e.CONCLAVE_ACCESS_ISSUER_SEED_FILE, "utf8").trim();
    } catch (err) {
      fail("CONCLAVE_ACCESS_ISSUER_SEED_FILE", (err as Error).message);
    }
    if (!issuerSeed || !ACCOUNT_SEED.test(issuerSeed)) {
      fail("CONCLAVE_ACCESS_ISSUER_SEED_FILE", "must hold an account nkey seed (SA…)");
    }
  }
  if (!issuerSeed) {
    return fail(
      "CONCLAVE_ACCESS_ISSUER_SEED",
      "required (or CONCLAVE_ACCESS_ISSUER_SEED_FILE): the callout's issuer key",
    );
  }
  return {
    issuerSeed,
    account: e.CONCLAVE_ACCESS_ACCOUNT,
    queue: e.CONCLAVE_ACCESS_QUEUE,
    ttlS: e.CONCLAVE_ACCESS_TTL_S,
    decisionMs: e.CONCLAVE_ACCESS_DECISION_MS,
    maxInflight: e.CONCLAVE_ACCESS_MAX_INFLIGHT,
    maxQueued: e.CONCLAVE_ACCESS_MAX_QUEUED,
    maxRooms: e.CONCLAVE_ACCESS_MAX_ROOMS,
    limits: {
      subs: e.CONCLAVE_ACCESS_MAX_SUBS,
      payload: e.CONCLAVE_ACCESS_MAX_PAYLOAD,
      data: e.CONCLAVE_ACCESS_MAX_DATA,
    },
  };
}
