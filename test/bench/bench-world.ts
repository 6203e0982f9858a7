import type { KeyFile } from "@conclave/auth";
import { membershipModule } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import type { NatsCluster } from "@conclave/testkit";
import { identity, register } from "../support/membership-fixture.ts";

/** What every membership benchmark starts from: an in-process host, an admin and one registered bot. */
export interface BenchWorld {
  /** Environment for spawned replicas (the per-IP bucket out of the way: one client is the load). */
  env: Record<string, string>;
  host: Host;
  bot: KeyFile;
  /** The bootstrap operator: lists users of any tenant. */
  operator: KeyFile;
}

export async function benchWorld(cluster: NatsCluster): Promise<BenchWorld> {
  const env = {
    CONCLAVE_NATS_URLS: cluster.urls.join(","),
    CONCLAVE_REPLICAS: String(cluster.nodes.length),
    CONCLAVE_LOG_LEVEL: "error",
    CONCLAVE_IP_RATE_PER_S: "1000000",
    CONCLAVE_IP_BURST: "1000000",
  };
  const host = await startHost({ env: loadServiceEnv({ ...env, CONCLAVE_PORT: "0" }), modules: [membershipModule] });
  const bot = identity("bot", "bench");
  const operator = identity("admin", "bench");
  await register(host, operator, [bot], true);
  return { env: { ...env, CONCLAVE_LOG_LEVEL: "info" }, host, bot, operator };
}
