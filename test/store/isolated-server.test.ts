import { Store } from "@conclave/store";
import { eventually, type NatsNode, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { RouteProxies } from "../chaos/route-proxy.ts";

// A Store attached to a node that a partition cuts off from the other two
// must move to the majority by itself (libs/store/src/isolated-server.ts):
// the isolated node keeps the client connection open and healthy, so nothing
// else would move it, and every guarded operation through it is Unavailable
// for the whole partition (chaos finding 3). With quorum lost to a single
// survivor, there is nowhere better to go: moves back off instead of churning.

const OP_TIMEOUT_MS = 1_000;
const user = z.object({ status: z.enum(["active", "revoked"]) });

describe("a Store on a node that loses every route", () => {
  const proxies = new RouteProxies();
  const cluster = useCluster({ nodes: 3, routeVia: proxies.routeVia });
  let store: Store;

  beforeAll(async () => {
    const c = cluster();
    await c.waitForMetaLeader();
    store = await Store.connect({
      ...c.connectOptions("operator"),
      name: "isolated",
      replicas: 3,
      opTimeoutMs: OP_TIMEOUT_MS,
    });
    await store.provision();
    await store.table("users", user).put("alice", { status: "active" });
  });
  afterAll(async () => {
    await store?.close();
    proxies.close();
  });

  const attachedNode = (): NatsNode => {
    const at = store.conn.nc.getServer();
    const node = cluster().nodes.find((n) => n.url.endsWith(at.replace(/^.*:\/\//, "")));
    if (!node) throw new Error(`attached to ${at}, not a cluster node`);
    return node;
  };
  /** The read every signed request starts with: a leader read, then the quorum witness. */
  const guardedRead = async () => {
    const entry = await store.table("users", user).get("alice");
    await store.witness.confirm();
    return entry?.value.status;
  };

  it("moves to the majority within seconds of the cut and serves guarded reads there", async () => {
    const isolated = attachedNode();
    const cutAt = Date.now();
    proxies.isolate(isolated.name);
    let movedAt = 0;
    const watching = setInterval(() => {
      if (!movedAt && attachedNode() !== isolated) movedAt = Date.now();
    }, 20);
    let servedAt = 0;
    await eventually(async () => {
      expect(movedAt).toBeGreaterThan(0);
      expect(await guardedRead()).toBe("active");
      servedAt = Date.now();
    }, 30_000).finally(() => clearInterval(watching));
    console.log(
      `isolated ${isolated.name}: moved to ${attachedNode().name} ${movedAt - cutAt} ms after the cut, guarded read served ${servedAt - cutAt} ms after`,
    );
    expect(store.conn.isolation?.attempts).toBe(1);
    expect(store.conn.gate.moves).toBe(1);
    proxies.healAll();
    await cluster().waitForMetaLeader();
  });

  it("with quorum lost to one survivor, backs off instead of churning, and serves again when it returns", async () => {
    const c = cluster();
    await eventually(async () => expect(await guardedRead()).toBe("active"), 30_000);
    const survivor = attachedNode();
    const others = c.nodes.filter((n) => n !== survivor);
    const before = store.conn.isolation?.attempts ?? 0;
    for (const n of others) await n.kill();
    await new Promise((r) => setTimeout(r, 12_000));
    // Every server it can reach is isolated: tries at about 1, 3 and 7 s (2 s doubling), not every second.
    const tries = (store.conn.isolation?.attempts ?? 0) - before;
    console.log(`quorum lost for 12 s: ${tries} moves tried`);
    expect(tries).toBeGreaterThanOrEqual(1);
    expect(tries).toBeLessThanOrEqual(4);
    await expect(guardedRead()).rejects.toThrow();
    const restartedAt = Date.now();
    for (const n of others) await n.start();
    await eventually(async () => expect(await guardedRead()).toBe("active"), 60_000);
    console.log(`served again ${Date.now() - restartedAt} ms after the two nodes were started`);
  });
});
