import { randomBytes } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
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
    route: { user: "conclave-route", password: randomBytes(24).toString("base64url") },
  };
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

/** Reads a saved set, or generates one and saves it (mode 0600): the local start's first run. */
export async function loadOrCreateCredentials(file: string): Promise<NatsCredentials> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as NatsCredentials;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const fresh = generateCredentials();
  await writeFile(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  await chmod(file, 0o600);
  return fresh;
}
