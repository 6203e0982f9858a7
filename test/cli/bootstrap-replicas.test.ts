import { generateIdentity } from "@conclave/auth";
import { ASSET_STREAMS } from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { describe, expect, it } from "vitest";
import { bootstrap, clusterReplicas, withStore } from "../../services/cli/src/store-commands.ts";

// Issue 15: `conclave bootstrap` created R1 buckets and streams against a 3-node cluster.

describe("conclave bootstrap against a 3-node cluster", () => {
  const cluster = useCluster({ nodes: 3 });

  it("defaults to the cluster's size: every bucket and stream it provisions is R3", async () => {
    expect(await clusterReplicas(cluster().urls, cluster().connectOptions("operator").authenticator)).toBe(3);
    const admin = generateIdentity({ name: "admin", tenant: "local", url: "http://127.0.0.1:7420" });
    await withStore(
      { nats: cluster().urls, replicas: undefined, ...cluster().connectOptions("operator") },
      async (store, log) => {
        expect(store.replicas).toBe(3);
        await bootstrap(store, log, admin);
        for (const stream of ASSET_STREAMS.values()) {
          expect([stream, (await store.conn.jsm.streams.info(stream)).config.num_replicas]).toEqual([stream, 3]);
        }
      },
    );
  });
});

describe("conclave bootstrap against a single server", () => {
  const single = useCluster({ nodes: 1 });

  it("defaults to one replica", async () => {
    expect(await clusterReplicas(single().urls, single().connectOptions("operator").authenticator)).toBe(1);
  });
});
