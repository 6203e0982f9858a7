import { execFileSync } from "node:child_process";
import { NatsContainerNode, useCluster } from "@conclave/testkit";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";

// The container backend of the cluster harness (CONCLAVE_NATS_BACKEND=containers,
// set by test/containers/vitest.config.ts): the faults the store suites inject
// map onto the engine's own verbs, and a node keeps its identity across them.
const inspect = (name: string, format: string) =>
  execFileSync("docker", ["inspect", "-f", format, name], { encoding: "utf8" }).trim();

describe("cluster harness, container backend", () => {
  const cluster = useCluster({ nodes: 3 });

  it("runs every node as a container of NATS_IMAGE, published on loopback only", () => {
    for (const node of cluster().nodes) {
      expect(node).toBeInstanceOf(NatsContainerNode);
      const id = (node as NatsContainerNode).containerId;
      expect(inspect(id, "{{.Config.Image}}")).toBe(process.env.NATS_IMAGE);
      const bindings = inspect(id, "{{json .HostConfig.PortBindings}}");
      expect(JSON.parse(bindings)["4222/tcp"]).toEqual([
        { HostIp: "127.0.0.1", HostPort: String(node.spec.clientPort) },
      ]);
    }
  });

  it("maps kill, pause and restart onto docker kill, pause/unpause and start, keeping the container and its ports", async () => {
    const c = cluster();
    const n2 = c.node("n2") as NatsContainerNode;
    const id = n2.containerId;
    await c.kill("n2");
    expect(inspect(id, "{{.State.Status}}")).toBe("exited");
    await n2.start();
    expect(n2.containerId).toBe(id);
    await c.waitHealthy();
    c.pause("n2");
    expect(inspect(id, "{{.State.Status}}")).toBe("paused");
    expect(await n2.healthy()).toBe(false);
    c.resume("n2");
    expect(inspect(id, "{{.State.Status}}")).toBe("running");
    await c.waitHealthy();
    // Clients reach the restarted node on its old URL, and gossip advertises loopback, not a container address.
    const nc = await connect(c.connectOptions("operator", [n2.url]));
    expect(nc.info?.connect_urls?.every((u) => u.startsWith("127.0.0.1:"))).toBe(true);
    await nc.close();
  });
});
