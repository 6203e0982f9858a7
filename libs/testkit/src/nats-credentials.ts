import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Authenticator, nkeyAuthenticator } from "@nats-io/nats-core";
import { createAccount, createUser, fromSeed } from "@nats-io/nkeys";

/** The services-account users of deploy/nats/accounts.conf, one nkey each. */
export const SERVICE_ROLES = ["gateway", "membership", "blob", "access", "operator", "rpc"] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/**
 * Every secret a Conclave NATS deployment needs: a user seed ("SU…") per
 * services-account role, the restricted system user's seed, the callout's
 * issuer account seed ("SA…") and the route user and password. The servers
 * only get public keys (`serverEnv`); processes get one seed each.
 */
export interface NatsCredentials {
  seeds: Record<ServiceRole, string>;
  system: string;
  issuer: string;
  route: { user: string; password: string };
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A fresh set (the harness makes one per cluster; `conclave credentials init` one per deployment). */
export function generateCredentials(): NatsCredentials {
  const seeds = Object.fromEntries(SERVICE_ROLES.map((r) => [r, decode(createUser().getSeed())])) as Record<
    ServiceRole,
    string
  >;
  return {
    seeds,
    system: decode(createUser().getSeed()),
    issuer: decode(createAccount().getSeed()),
    route: { user: "conclave-route", password: routePassword() },
  };
}

/**
 * A route password nats-server's config reads back as the same string. The config parses an
 * environment variable's value as a config value: base64url's leading "-" or a digit made it a
 * number and stopped the server at start (12 of 300 generated passwords, seen as harness nodes
 * "exiting while starting"). A letter, then hex: always a plain string.
 */
export function routePassword(): string {
  return `p${randomBytes(24).toString("hex")}`;
}

const publicKeyOf = (seed: string) => fromSeed(new TextEncoder().encode(seed)).getPublicKey();

/** The variables deploy/nats/*.conf reads: public keys and the route credentials, no user seed. */
export function serverEnv(c: NatsCredentials): Record<string, string> {
  return {
    ...Object.fromEntries(SERVICE_ROLES.map((r) => [`NATS_NKEY_${r.toUpperCase()}`, publicKeyOf(c.seeds[r])])),
    NATS_NKEY_SYSTEM: publicKeyOf(c.system),
    NATS_CALLOUT_ISSUER: publicKeyOf(c.issuer),
    NATS_ROUTE_USER: c.route.user,
    NATS_ROUTE_PASSWORD: c.route.password,
  };
}

/** Connects as `seed` (an nkey user: the server's nonce signed with it). */
export function seedAuthenticator(seed: string): Authenticator {
  return nkeyAuthenticator(new TextEncoder().encode(seed));
}

/** `nats://host:port` with the route credentials in it, as a route URL must be. */
export function routeUrl(c: NatsCredentials, hostPort: string): string {
  return `nats://${encodeURIComponent(c.route.user)}:${encodeURIComponent(c.route.password)}@${hostPort}`;
}

const ENV_FILE = "nats.env";
const SEEDS_ENV_FILE = "seeds.env";

/**
 * The seeds as variables, for a deployment that hands each process its own
 * from one file (docker-compose interpolates them from `.env`):
 * `CONCLAVE_NATS_SEED_<ROLE>`, `CONCLAVE_NATS_SYSTEM_SEED`, `CONCLAVE_ACCESS_ISSUER_SEED`.
 */
export function seedsEnv(c: NatsCredentials): Record<string, string> {
  return {
    ...Object.fromEntries(SERVICE_ROLES.map((r) => [`CONCLAVE_NATS_SEED_${r.toUpperCase()}`, c.seeds[r]])),
    CONCLAVE_NATS_SYSTEM_SEED: c.system,
    CONCLAVE_ACCESS_ISSUER_SEED: c.issuer,
  };
}

const envText = (vars: Record<string, string>) =>
  Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
const seedFile = (name: string) => `${name}.nk`;

/**
 * Writes a set as files of `dir` (mode 0600, never overwriting one: rotating is
 * a deliberate step, docs/runbook.md): a seed file per role (`gateway.nk`, …),
 * `system.nk`, `issuer.nk`, `nats.env` (the variables the servers read: no
 * seed) and `seeds.env` (every seed as a variable, `seedsEnv`).
 */
export async function writeCredentials(dir: string, c: NatsCredentials): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files: [string, string][] = [
    ...SERVICE_ROLES.map((r): [string, string] => [seedFile(r), c.seeds[r]]),
    [seedFile("system"), c.system],
    [seedFile("issuer"), c.issuer],
    [ENV_FILE, envText(serverEnv(c))],
    [SEEDS_ENV_FILE, envText(seedsEnv(c))],
  ];
  for (const [name, text] of files) await writeFile(join(dir, name), `${text}\n`, { mode: 0o600, flag: "wx" });
}

/** Reads a set written by `writeCredentials`. */
export async function readCredentials(dir: string): Promise<NatsCredentials> {
  const read = async (name: string) => (await readFile(join(dir, name), "utf8")).trim();
  const env = Object.fromEntries(
    (await read(ENV_FILE))
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  const seeds = {} as Record<ServiceRole, string>;
  for (const r of SERVICE_ROLES) seeds[r] = await read(seedFile(r));
  return {
    seeds,
    system: await read(seedFile("system")),
    issuer: await read(seedFile("issuer")),
    route: { user: String(env.NATS_ROUTE_USER), password: String(env.NATS_ROUTE_PASSWORD) },
  };
}

/** The seed file of one role in a directory written by `writeCredentials` (for `--nats-seed-file`). */
export function seedFileOf(dir: string, role: ServiceRole | "system" | "issuer"): string {
  return join(dir, seedFile(role));
}

/** Reads the set in `dir`, or generates and writes one there: the local start's first run. */
export async function loadOrCreateCredentials(dir: string): Promise<NatsCredentials> {
  try {
    return await readCredentials(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const fresh = generateCredentials();
  await writeCredentials(dir, fresh);
  return fresh;
}
