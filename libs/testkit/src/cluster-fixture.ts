import { afterAll, afterEach, beforeAll } from "vitest";
import { type ClusterOptions, NatsCluster } from "./nats-cluster.ts";

/**
 * Starts a cluster for the enclosing vitest file or describe block, prints the
 * nodes' logs when a test fails, and always stops it.
 * Use the returned getter inside tests: `const cluster = useCluster({ nodes: 3 })`.
 */
export function useCluster(opts: ClusterOptions = {}): () => NatsCluster {
  let cluster: NatsCluster | undefined;
  beforeAll(async () => {
    cluster = await NatsCluster.start(opts);
  });
  afterEach((ctx) => {
    if (cluster && ctx.task.result?.state === "fail") {
      console.error(`nats-server logs of the failed test:\n${cluster.logs()}`);
    }
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error("cluster not started (useCluster must be called at file or describe level)");
    return cluster;
  };
}
