import { type AccessConfig, createAccessModule, loadAccessConfig } from "@conclave/access";
import { membershipModule } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import type { DataplaneNats } from "./dataplane-nats.ts";

// The services a data-plane test runs against the server of dataplane-nats.ts, each on its
// services-account user: membership (HTTP for the SDK) and an auth callout replica.

/** A service host's environment on the data-plane server, as the services-account user of `seed`. */
export const dataplaneHostEnv = (nats: DataplaneNats, seed: string, logLevel = "warn") => ({
  CONCLAVE_NATS_URLS: nats.urls.join(","),
  CONCLAVE_NATS_NKEY_SEED: seed,
  CONCLAVE_REPLICAS: String(Math.min(nats.nodes.length, 3)),
  CONCLAVE_LOG_LEVEL: logLevel,
  CONCLAVE_PORT: "0",
  // One test machine is every client: the per-IP bucket out of the way.
  CONCLAVE_IP_RATE_PER_S: "100000",
  CONCLAVE_IP_BURST: "100000",
});

export function startDataplaneMembership(nats: DataplaneNats): Promise<Host> {
  return startHost({ env: loadServiceEnv(dataplaneHostEnv(nats, nats.seeds.service)), modules: [membershipModule] });
}

/** A callout replica's environment: its services-account user, the issuer key, the system user (live disconnect). */
export const calloutEnv = (nats: DataplaneNats, extra: Record<string, string> = {}, logLevel = "warn") => ({
  ...dataplaneHostEnv(nats, nats.seeds.callout, logLevel),
  CONCLAVE_ACCESS_ISSUER_SEED: nats.seeds.issuer,
  CONCLAVE_NATS_SYSTEM_SEED: nats.seeds.system,
  ...extra,
});

/** A callout replica in this process; `config` overrides what the environment cannot say (a TTL under 10 s). */
export function startDataplaneCallout(nats: DataplaneNats, config: Partial<AccessConfig> = {}): Promise<Host> {
  const env = calloutEnv(nats);
  return startHost({
    env: loadServiceEnv(env),
    modules: [createAccessModule({ config: { ...loadAccessConfig(env), ...config } })],
  });
}
