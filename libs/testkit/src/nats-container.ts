import { execFileSync, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StartedNetwork, StartedTestContainer } from "testcontainers";
import { type NatsCredentials, routeUrl, serverEnv } from "./nats-credentials.ts";
import { NatsNode, type NodeSpec } from "./nats-node.ts";

// The container backend of the cluster harness (CONCLAVE_NATS_BACKEND=containers):
// each node is a container of the NATS image (NATS_IMAGE, else the official one
// docker-compose.yml pins), created with Testcontainers on a network of its own,
// with the same config file and variables as a process node. Node identity is
// kept across restarts the way the process backend keeps it: the same container
// (its store in the container's filesystem), the same host ports (fixed
// bindings), and a client URL advertised as that host port, so clients that
// follow cluster gossip dial 127.0.0.1, never a container address.
// Faults map one to one: SIGKILL = `docker kill`, SIGSTOP/SIGCONT = `docker
// pause`/`unpause` (the cgroup freezer: sockets stay open, nothing answers),
// start again = `docker start`, lame duck = SIGUSR2 to the server.

export const DEFAULT_NATS_IMAGE = "nats:2.15.1-alpine";
/** Every harness container carries it, so a killed test run's leftovers can be found and removed. */
export const HARNESS_LABEL = "org.conclave.harness";

const CLIENT_PORT = 4222;
const HTTP_PORT = 8222;
const CLUSTER_PORT = 6222;
const CONFIG = "/etc/nats/node.conf";

/** Testcontainers, loaded only when the container backend is chosen (the process backend needs no engine). */
async function testcontainers() {
  // The reaper (Ryuk) is an image from a registry: the harness removes its own containers instead.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  return import("testcontainers");
}

export async function startNetwork(): Promise<StartedNetwork> {
  const { Network } = await testcontainers();
  return new Network().start();
}

/**
 * Removes every harness container on `network` (including one whose start
 * failed before it was handed back), then the network.
 */
export async function removeNetwork(network: StartedNetwork): Promise<void> {
  const ids = docker("ps", "-aq", "--filter", `label=${HARNESS_LABEL}=${network.getId()}`).split("\n").filter(Boolean);
  if (ids.length > 0) spawnSync("docker", ["rm", "--force", "--volumes", ...ids], { stdio: "ignore" });
  await network.stop();
}

/** One NATS node as a container; the same surface as a process node. */
export class NatsContainerNode extends NatsNode {
  private readonly image: string;
  private readonly network: StartedNetwork;
  private readonly peers: string[];
  private readonly credentials: NatsCredentials;
  private container?: StartedTestContainer;

  /**
   * `peers`: every node's name in the cluster (its network alias), for the route list; empty for one node.
   * `credentials`: the cluster's (public keys in the environment, route credentials in the route URLs).
   */
  constructor(image: string, network: StartedNetwork, peers: string[], spec: NodeSpec, credentials: NatsCredentials) {
    super("docker", spec);
    this.image = image;
    this.network = network;
    this.peers = peers;
    this.credentials = credentials;
  }

  /** The container's id, once created (it survives kills and restarts). */
  get containerId(): string {
    if (!this.container) throw new Error(`${this.name} has no container yet`);
    return this.container.getId();
  }

  override async start(timeoutMs = 60_000): Promise<void> {
    if (this.state !== "stopped") throw new Error(`${this.name} is already ${this.state}`);
    if (this.container) {
      docker("start", this.container.getId());
    } else {
      this.container = await this.create();
    }
    this.state = "running";
    await this.waitMonitoring(timeoutMs);
  }

  private async create(): Promise<StartedTestContainer> {
    const { GenericContainer, Wait } = await testcontainers();
    // Published on loopback only, like the process nodes (the data plane has no auth):
    // Testcontainers binds every interface and has no option for the host address.
    class LoopbackContainer extends GenericContainer {
      onLoopback(): this {
        for (const bindings of Object.values(this.hostConfig.PortBindings ?? {})) {
          for (const binding of bindings as { HostIp?: string }[]) binding.HostIp = "127.0.0.1";
        }
        return this;
      }
    }
    const s = this.spec;
    return (
      new LoopbackContainer(this.image)
        .withName(`conclave-nats-${this.network.getId().slice(0, 12)}-${s.name}`)
        .withLabels({ [HARNESS_LABEL]: this.network.getId() })
        .withNetwork(this.network)
        .withNetworkAliases(s.name)
        .withExposedPorts({ container: CLIENT_PORT, host: s.clientPort }, { container: HTTP_PORT, host: s.httpPort })
        .withEnvironment({
          ...serverEnv(this.credentials),
          NATS_SERVER_NAME: s.name,
          NATS_LISTEN: `0.0.0.0:${CLIENT_PORT}`,
          NATS_HTTP: `0.0.0.0:${HTTP_PORT}`,
          NATS_STORE_DIR: "/data/jetstream",
          NATS_CLUSTER_LISTEN: `0.0.0.0:${CLUSTER_PORT}`,
          NATS_ROUTES: JSON.stringify(this.peers.map((p) => routeUrl(this.credentials, `${p}:${CLUSTER_PORT}`))),
          NATS_LAME_DUCK_DURATION: s.lameDuckDuration ?? "30s",
          NATS_LAME_DUCK_GRACE_PERIOD: s.lameDuckGracePeriod ?? "2s",
        })
        .withCopyFilesToContainer([
          { source: s.configFile, target: CONFIG },
          // The files the config includes, from its own directory.
          ...["accounts.conf", "rpc-handlers.conf"].map((file) => ({
            source: join(dirname(s.configFile), file),
            target: join(dirname(CONFIG), file),
          })),
        ])
        .withCommand(["-c", CONFIG, "--client_advertise", `${s.host}:${s.clientPort}`, ...(s.args ?? [])])
        // Started = the server says so in its log; reachability is checked by
        // waitMonitoring through the host binding (Testcontainers' own HTTP wait
        // dials its idea of the docker host, not always the loopback we publish on).
        .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
        .onLoopback()
        .start()
    );
  }

  /** Waits until the monitoring port answers through its host binding (JetStream may still be electing). */
  private async waitMonitoring(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.isRunning()) throw new Error(`${this.name} exited while starting:\n${this.logTail(30)}`);
      try {
        await fetch(`${this.monitorUrl}/varz`, { signal: AbortSignal.timeout(1000) });
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`${this.name} did not listen within ${timeoutMs} ms:\n${this.logTail(30)}`);
  }

  private isRunning(): boolean {
    if (!this.container) return false;
    return docker("inspect", "-f", "{{.State.Running}}", this.container.getId()).trim() === "true";
  }

  /** `docker kill`: SIGKILL to the server, the container stops and keeps its store. */
  override async kill(): Promise<void> {
    if (this.state === "stopped" || !this.container) return;
    docker("kill", this.container.getId());
    this.state = "stopped";
  }

  /** SIGUSR2 (lame-duck mode); resolves when the container has exited. */
  override async lameDuck(timeoutMs = 60_000): Promise<void> {
    if (this.state !== "running" || !this.container) throw new Error(`${this.name} is ${this.state}, cannot lame-duck`);
    const id = this.container.getId();
    docker("kill", "--signal", "SIGUSR2", id);
    const deadline = Date.now() + timeoutMs;
    while (this.isRunning()) {
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.name} did not leave lame-duck mode within ${timeoutMs} ms; killed`);
      }
      await sleep(100);
    }
    this.state = "stopped";
  }

  // Synchronous like the process backend's SIGSTOP/SIGCONT: callers do not await a pause.
  override pause(): void {
    if (this.state !== "running" || !this.container) throw new Error(`${this.name} is ${this.state}, cannot pause`);
    docker("pause", this.container.getId());
    this.state = "paused";
  }

  override resume(): void {
    if (this.state !== "paused" || !this.container) throw new Error(`${this.name} is ${this.state}, cannot resume`);
    docker("unpause", this.container.getId());
    this.state = "running";
  }

  /** `docker stop` (SIGTERM, then SIGKILL after the grace). */
  override async stop(graceMs = 5_000): Promise<void> {
    if (this.state === "stopped" || !this.container) return;
    if (this.state === "paused") docker("unpause", this.container.getId());
    docker("stop", "--time", String(Math.ceil(graceMs / 1000)), this.container.getId());
    this.state = "stopped";
  }

  override logTail(lines: number): string {
    if (!this.container) return "(no container)";
    const r = spawnSync("docker", ["logs", "--tail", String(lines), this.container.getId()], { encoding: "utf8" });
    return `${r.stdout}${r.stderr}`;
  }
}

function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
