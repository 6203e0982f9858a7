import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { eventually, NatsCluster, useCluster } from "@conclave/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("3-node cluster harness", () => {
  const cluster = useCluster({ nodes: 3 });

  it("elects a new meta leader after the leader is SIGKILLed, and the node rejoins on restart", async () => {
    const c = cluster();
    const leader = await c.waitForMetaLeader();
    await c.kill(leader);
    expect(c.node(leader).state).toBe("stopped");
    const next = await c.waitForMetaLeader();
    expect(next).not.toBe(leader);
    await c.restart(leader);
    expect(c.node(leader).state).toBe("running");
    await c.waitForMetaLeader();
    await c.waitHealthy();
  });

  it("restart keeps the node's store: an R3 stream written before is still there", async () => {
    const c = cluster();
    const nc = await connect({ ...c.connectOptions("operator", [c.node("n1").url]) });
    try {
      const jsm = await eventually(() => jetstreamManager(nc));
      await eventually(() => jsm.streams.add({ name: "HARNESS", subjects: ["harness.>"], num_replicas: 3 }));
      const js = jsm.jetstream();
      await eventually(() => js.publish("harness.a", "one", { msgID: "harness-a" }));
      await c.restart("n2");
      await c.waitHealthy();
      const info = await eventually(() => jsm.streams.info("HARNESS"));
      expect(info.state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it("pause stops a node answering and resume brings it back", async () => {
    const c = cluster();
    const node = c.node("n3");
    c.pause("n3");
    const answered = await fetch(`${node.monitorUrl}/varz`, { signal: AbortSignal.timeout(500) })
      .then(() => true)
      .catch(() => false);
    expect(answered).toBe(false);
    c.resume("n3");
    const res = await fetch(`${node.monitorUrl}/varz`, { signal: AbortSignal.timeout(2000) });
    expect(res.ok).toBe(true);
  });
});

describe("cleanup", () => {
  it("stop() leaves no nats-server process behind", async () => {
    const c = await NatsCluster.start({ nodes: 1 });
    const pid = c.nodes[0]?.pid;
    expect(alive(pid)).toBe(true);
    await c.stop();
    expect(alive(pid)).toBe(false);
  });

  it("a test runner killed with SIGKILL leaves no nats-server process behind", async () => {
    const script = `
      import { NatsCluster } from "@conclave/testkit";
      const c = await NatsCluster.start({ nodes: 3 });
      c.pause(1); // even a stopped process must be reaped
      console.log(JSON.stringify(c.nodes.map((n) => n.pid)));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const pids = await new Promise<number[]>((resolve, reject) => {
      child.stdout.once("data", (buf: Buffer) => resolve(JSON.parse(buf.toString())));
      child.once("exit", () => reject(new Error("runner exited early")));
    });
    expect(pids.every(alive)).toBe(true);
    child.kill("SIGKILL");
    for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
    expect(pids.filter(alive)).toEqual([]);
  });
});
