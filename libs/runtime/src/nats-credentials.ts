import { readFileSync } from "node:fs";
import { type Authenticator, nkeyAuthenticator } from "@nats-io/nats-core";
import { ConfigError, type ServiceEnv } from "./config.ts";

const USER_SEED = /^SU[A-Z2-7]{56}$/;

/**
 * The process's NATS credentials: an nkey user of the services account, its
 * seed given inline (CONCLAVE_NATS_SEED, e.g. from a Kubernetes secret)
 * or in a file (CONCLAVE_NATS_SEED_FILE, a mounted secret), never both.
 * Neither is a configuration error at start: deploy/nats admits no anonymous
 * client, and a process that found out only at connect would retry refused
 * connects instead of saying what is missing. The CLI reads the same two
 * (`--nats-seed-file`).
 */
export function natsAuthenticator(
  env: Pick<ServiceEnv, "CONCLAVE_NATS_SEED" | "CONCLAVE_NATS_SEED_FILE">,
): Authenticator {
  const authenticator = seedAuthenticatorOf("CONCLAVE_NATS_SEED", env.CONCLAVE_NATS_SEED, env.CONCLAVE_NATS_SEED_FILE);
  if (!authenticator) {
    throw new ConfigError(
      "invalid configuration:\n  CONCLAVE_NATS_SEED_FILE: required, or CONCLAVE_NATS_SEED (NATS admits no anonymous client; `conclave credentials init` makes the seeds)",
    );
  }
  return authenticator;
}

/** One rule for a seed given inline as `name` or in the file `${name}_FILE`. */
function seedAuthenticatorOf(name: string, inline?: string, file?: string): Authenticator | undefined {
  if (inline && file) {
    throw new ConfigError(`invalid configuration:\n  ${name}_FILE: set either it or ${name}`);
  }
  let seed = inline;
  if (file) {
    try {
      seed = readFileSync(file, "utf8").trim();
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  ${name}_FILE: ${(err as Error).message}`);
    }
    if (!USER_SEED.test(seed)) {
      throw new ConfigError(`invalid configuration:\n  ${name}_FILE: must hold a user nkey seed (SU…)`);
    }
  }
  return seed ? nkeyAuthenticator(new TextEncoder().encode(seed)) : undefined;
}
