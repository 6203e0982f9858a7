import { type AccessConfig, createAccessModule, loadAccessConfig } from "@conclave/access";
import { membershipModule } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import type { NatsCluster, ServiceRole } from "@conclave/testkit";

// The services a data-plane test runs against a harness cluster (which carries the accounts of
// deploy/nats/accounts.conf), each as its own services-account user: membership (HTTP for the SDK)
// and auth callout replicas.

/** A service host's environment on the cluster, as the services-account user of `role`. */
export const dataplaneHostEnv = (nats: NatsCluster, role: ServiceRole, logLevel = "warn") => ({
  ...nats.serviceEnv(role),
  CONCLAVE_REPLICAS: String(Math.min(nats.nodes.length, 3)),
  CONCLAVE_LOG_LEVEL: logLevel,
  CONCLAVE_PORT: "0",
  // One test machine is every client: the per-IP bucket out of the way.
  CONCLAVE_IP_RATE_PER_S: "100000",
  CONCLAVE_IP_BURST: "100000",
});

/** A callout replica's environment: the access user, the issuer key, the system user (live disconnect). */
export const calloutEnv = (nats: NatsCluster, extra: Record<string, string> = {}, logLevel = "warn") => ({
  ...dataplaneHostEnv(nats, "access", logLevel),
  CONCLAVE_ACCESS_ISSUER_SEED: nats.credentials.issuer,
  CONCLAVE_NATS_SYSTEM_SEED: nats.credentials.system,
  ...extra,
});

export function startDataplaneMembership(nats: NatsCluster, logLevel = "warn"): Promise<Host> {
  return startHost({
    env: loadServiceEnv(dataplaneHostEnv(nats, "membership", logLevel)),
    modules: [membershipModule],
  });
}

/** A callout replica in this process; `config` overrides what the environment cannot say (a TTL under 10 s). */
export function startDataplaneCallout(
  nats: NatsCluster,
  config: Partial<AccessConfig> = {},
  extra: Record<string, string> = {},
  logLevel = "warn",
): Promise<Host> {
  const env = calloutEnv(nats, extra, logLevel);
  return startHost({
    env: loadServiceEnv(env),
    modules: [createAccessModule({ config: { ...loadAccessConfig(env), ...config } })],
  });
}
