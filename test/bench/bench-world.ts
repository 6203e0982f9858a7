import type { KeyFile } from "@conclave/auth";
import { membershipModule } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import { freePorts, type NatsCluster } from "@conclave/testkit";
import { identity, register } from "../support/membership-fixture.ts";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";

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
    ...cluster.serviceEnv("membership"),
    CONCLAVE_REPLICAS: String(cluster.nodes.length),
    // No per-request lines in the measured processes (fastify logs each request at info).
    CONCLAVE_LOG_LEVEL: "warn",
    CONCLAVE_IP_RATE_PER_S: "1000000",
    CONCLAVE_IP_BURST: "1000000",
  };
  const host = await startHost({ env: loadServiceEnv({ ...env, CONCLAVE_PORT: "0" }), modules: [membershipModule] });
  const bot = identity("bot", "bench");
  const operator = identity("admin", "bench");
  await register(host, operator, [bot], true);
  return { env, host, bot, operator };
}

/**
 * A membership replica as its own process, logging at warn: nothing per
 * request for this process to parse and keep. A fixed port stands in for the
 * "listening" info line spawnService would otherwise wait for.
 */
export async function spawnReplica(world: BenchWorld): Promise<ServiceProcess> {
  const [port] = await freePorts(1);
  return spawnService("services/membership/src/main.ts", { ...world.env, CONCLAVE_PORT: String(port) });
}
