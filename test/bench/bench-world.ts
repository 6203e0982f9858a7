import type { KeyFile } from "@conclave/auth";
import { membershipModule } from "@conclave/membership";
import { loadServiceEnv, startHost } from "@conclave/runtime";
import { Store } from "@conclave/store";
import { freePorts, type NatsCluster } from "@conclave/testkit";
import { identity, register } from "../support/membership-fixture.ts";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";
import { CPU_PROF_DIR } from "./bench-options.ts";
import { pinMeasured } from "./pin.ts";

/** What every membership benchmark starts from: a store connection, an operator and two registered users. */
export interface BenchWorld {
  /** Environment for spawned replicas (the per-IP bucket out of the way: one client is the load). */
  env: Record<string, string>;
  /** A plain store connection for the raw baselines and direct table writes: no projection runners. */
  store: Store;
  bot: KeyFile;
  /** A second member of the bench tenant: who the invite rows invite. */
  guest: KeyFile;
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
  const bot = identity("bot", "bench");
  const guest = identity("guest", "bench");
  const operator = identity("admin", "bench");
  // The in-process host provisions and registers, then goes: its projection runners
  // would otherwise be a second set of consumers inside the load generator (issue 16).
  const host = await startHost({ env: loadServiceEnv({ ...env, CONCLAVE_PORT: "0" }), modules: [membershipModule] });
  try {
    await register(host, operator, [bot, guest], true);
  } finally {
    await host.close();
  }
  const store = await Store.connect({
    ...cluster.connectOptions("operator"),
    name: "bench-load",
    replicas: cluster.nodes.length,
  });
  return { env, store, bot, guest, operator };
}

/**
 * A membership replica as its own process, logging at warn: nothing per
 * request for this process to parse and keep. A fixed port stands in for the
 * "listening" info line spawnService would otherwise wait for.
 */
export async function spawnReplica(world: BenchWorld): Promise<ServiceProcess> {
  const [port] = await freePorts(1);
  const profile = CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`] : [];
  const replica = await spawnService(
    "services/membership/src/main.ts",
    { ...world.env, CONCLAVE_PORT: String(port) },
    30_000,
    profile,
  );
  pinMeasured(replica.child.pid);
  return replica;
}
