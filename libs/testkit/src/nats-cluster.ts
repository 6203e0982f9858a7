import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Authenticator } from "@nats-io/nats-core";
import { projectRoot, resolveNatsServer } from "./nats-binary.ts";
import { DEFAULT_NATS_IMAGE, NatsContainerNode, removeNetwork, startNetwork } from "./nats-container.ts";
import {
  generateCredentials,
  type NatsCredentials,
  routeUrl,
  type ServiceRole,
  seedAuthenticator,
  serverEnv,
} from "./nats-credentials.ts";
import { NatsNode } from "./nats-node.ts";

export interface ClusterOptions {
  /** 1 = a single JetStream node; 3 (or 5) = a JetStream cluster. */
  nodes?: number;
  /** Parent folder for store dirs and logs; a fresh temp dir by default. */
  dir?: string;
  /** Keep the folder after stop() (the local start keeps its data). */
  keepDir?: boolean;
  host?: string;
  /** Fixed client port of the first node (the local start); free ports otherwise. */
  clientPort?: number;
  /**
   * Sends the cluster routes through something the caller controls (the chaos
   * suite's cuttable TCP proxy). Called once per ordered pair of nodes with the
   * real route address of `to` (`host`, `port`) and a free port reserved with
   * the nodes' own (`proxyPort`), where it must listen before it resolves;
   * `from` then dials `nats://host:proxyPort` instead. Nodes advertise an
   * unreachable route address, so route gossip cannot open a direct link
   * around the detour. Unset: nodes route to each other directly.
   */
  routeVia?: (link: { from: string; to: string; host: string; port: number; proxyPort: number }) => Promise<void>;
  /**
   * `processes`: nats-server processes on loopback (the default). `containers`:
   * each node a container of NATS_IMAGE (Testcontainers, libs/testkit/src/nats-container.ts),
   * same config, ports published on loopback. Default: CONCLAVE_NATS_BACKEND, else processes.
   */
  backend?: NatsBackend;
  /**
   * Client TLS (deploy/nats/tls.conf): PEM certificate and key paths of the
   * servers; clients must then connect with TLS and trust the issuing CA.
   */
  tls?: { cert: string; key: string };
  /** Lame-duck grace period of every node (NodeSpec.lameDuckGracePeriod; 2s by default). */
  lameDuckGracePeriod?: string;
  /** The accounts' secrets (the local start keeps its own); a fresh set by default. */
  credentials?: NatsCredentials;
  /**
   * The RPC account's users in place of deploy/nats/rpc-handlers.conf (one user per
   * handler, as `conclave credentials rpc-handlers` writes them): the servers then
   * run a copy of deploy/nats with this file in it.
   */
  rpcHandlersConf?: string;
}

/** The directory of the NATS configs the servers run: deploy/nats, or a copy with other RPC users. */
async function configDir(dir: string, rpcHandlersConf: string | undefined): Promise<string> {
  const source = join(projectRoot(), "deploy", "nats");
  if (rpcHandlersConf === undefined) return source;
  const copy = join(dir, "conf");
  await cp(source, copy, { recursive: true });
  await writeFile(join(copy, "rpc-handlers.conf"), rpcHandlersConf);
  return copy;
}

export type NatsBackend = "processes" | "containers";

function backendOf(opts: ClusterOptions): NatsBackend {
  const chosen = opts.backend ?? process.env.CONCLAVE_NATS_BACKEND ?? "processes";
  if (chosen !== "processes" && chosen !== "containers") {
    throw new Error(`CONCLAVE_NATS_BACKEND must be processes or containers, not ${chosen}`);
  }
  return chosen;
}

// Port 1 on loopback: nothing listens there, so a gossiped (implicit) route fails at once.
const UNROUTABLE_ADVERTISE = "127.0.0.1:1";

/** Reserves `count` distinct free TCP ports on the host. */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.once("error", reject);
          srv.listen(0, host, () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Each node's route list through `routeVia`: every other node, never itself, each on its own reserved port. */
async function detourRoutes(
  names: string[],
  host: string,
  port: (i: number, kind: number) => number,
  proxyPorts: number[],
  routeVia: NonNullable<ClusterOptions["routeVia"]>,
  credentials: NatsCredentials,
): Promise<string[][]> {
  let next = 0;
  const links = names.map((from, i) =>
    names.flatMap((to, j) =>
      i === j ? [] : [{ from, to, host, port: port(j, 2), proxyPort: proxyPorts[next++] as number }],
    ),
  );
  await Promise.all(links.flat().map((link) => routeVia(link)));
  return links.map((l) => l.map((link) => routeUrl(credentials, `${host}:${link.proxyPort}`)));
}

/** Real nats-server processes (or containers) on loopback: a single node or a JetStream cluster. */
export class NatsCluster {
  readonly nodes: NatsNode[];
  readonly dir: string;
  /** The cluster's secrets: every client connects as one of its users (no anonymous access). */
  readonly credentials: NatsCredentials;
  private readonly keepDir: boolean;
  private readonly teardown: () => Promise<void>;

  private constructor(
    nodes: NatsNode[],
    dir: string,
    credentials: NatsCredentials,
    keepDir: boolean,
    teardown: () => Promise<void>,
  ) {
    this.nodes = nodes;
    this.dir = dir;
    this.credentials = credentials;
    this.keepDir = keepDir;
    this.teardown = teardown;
  }

  static async start(opts: ClusterOptions = {}): Promise<NatsCluster> {
    const count = opts.nodes ?? 1;
    const host = opts.host ?? "127.0.0.1";
    const backend = backendOf(opts);
    if (backend === "containers" && opts.routeVia) {
      throw new Error("routeVia (the chaos suite's route detours) needs the process backend");
    }
    // The binary is only needed by processes; a container brings its own server.
    const bin = backend === "processes" ? await resolveNatsServer() : undefined;
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "conclave-nats-")));
    await mkdir(dir, { recursive: true });
    const clustered = count > 1;
    const credentials = opts.credentials ?? generateCredentials();
    // Proxy ports (routeVia) are reserved in the same call, so they cannot collide with a node's.
    const detour = clustered && opts.routeVia ? opts.routeVia : undefined;
    const ports = await freePorts(count * 3 + (detour ? count * (count - 1) : 0), host);
    const port = (i: number, kind: number) => ports[i * 3 + kind] as number;
    const routes = clustered
      ? Array.from({ length: count }, (_, i) => routeUrl(credentials, `${host}:${port(i, 2)}`))
      : undefined;
    const tls = opts.tls ? "-tls" : "";
    if (opts.tls && backend === "containers") throw new Error("client TLS is tested with the process backend only");
    const config = join(
      await configDir(dir, opts.rpcHandlersConf),
      `${clustered ? "cluster-node" : "single-node"}${tls}.conf`,
    );
    const names = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    const detours = detour
      ? await detourRoutes(names, host, port, ports.slice(count * 3), detour, credentials)
      : undefined;
    const network = backend === "containers" ? await startNetwork() : undefined;
    const image = process.env.NATS_IMAGE || DEFAULT_NATS_IMAGE;
    const nodes = names.map((name, i) => {
      const spec = {
        name,
        host,
        clientPort: i === 0 && opts.clientPort ? opts.clientPort : port(i, 0),
        httpPort: port(i, 1),
        ...(clustered ? { clusterPort: port(i, 2), routes: detours?.[i] ?? routes } : {}),
        ...(detours ? { args: ["--cluster_advertise", UNROUTABLE_ADVERTISE] } : {}),
        storeDir: join(dir, name, "store"),
        logFile: join(dir, `${name}.log`),
        configFile: config,
        ...(opts.lameDuckGracePeriod ? { lameDuckGracePeriod: opts.lameDuckGracePeriod } : {}),
        env: {
          ...serverEnv(credentials),
          ...(opts.tls ? { NATS_TLS_CERT: opts.tls.cert, NATS_TLS_KEY: opts.tls.key } : {}),
        },
      };
      return network
        ? new NatsContainerNode(image, network, clustered ? names : [], spec, credentials)
        : new NatsNode((bin as { path: string }).path, spec);
    });
    const teardown = async () => {
      if (network) await removeNetwork(network);
    };
    const cluster = new NatsCluster(nodes, dir, credentials, opts.keepDir ?? false, teardown);
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await cluster.waitForMetaLeader();
      await cluster.waitHealthy();
    } catch (err) {
      const logs = cluster.logs();
      await cluster.stop();
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
    return cluster;
  }

  /** Client URLs of every node (a connection may use any of them). */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** Options for `connect` / `Store.connect`: every node's URL and the user of `role`. */
  connectOptions(role: ServiceRole, servers = this.urls): { servers: string[]; authenticator: Authenticator } {
    return { servers, authenticator: seedAuthenticator(this.credentials.seeds[role]) };
  }

  /** The environment a service process of `role` reads (libs/runtime): the URLs and its seed. */
  serviceEnv(role: ServiceRole): { CONCLAVE_NATS_URLS: string; CONCLAVE_NATS_SEED: string } {
    return { CONCLAVE_NATS_URLS: this.urls.join(","), CONCLAVE_NATS_SEED: this.credentials.seeds[role] };
  }

  node(nameOrIndex: string | number): NatsNode {
    const node =
      typeof nameOrIndex === "number" ? this.nodes[nameOrIndex] : this.nodes.find((n) => n.name === nameOrIndex);
    if (!node) throw new Error(`no node ${nameOrIndex}`);
    return node;
  }

  kill(node: string | number): Promise<void> {
    return this.node(node).kill();
  }

  /** A planned stop (lame-duck mode); resolves when the node has exited. */
  lameDuck(node: string | number): Promise<void> {
    return this.node(node).lameDuck();
  }

  pause(node: string | number): void {
    this.node(node).pause();
  }

  resume(node: string | number): void {
    this.node(node).resume();
  }

  /** Starts a stopped or killed node again on the same ports and store dir. */
  async restart(node: string | number): Promise<void> {
    const n = this.node(node);
    await n.kill();
    await n.start();
  }

  /**
   * Waits until every running node sees the same live JetStream meta leader, which
   * sees every running node as current (a
   * single node: until /healthz is green). Fails after `timeoutMs`.
   */
  async waitForMetaLeader(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const running = () => this.nodes.filter((n) => n.state === "running");
    while (Date.now() < deadline) {
      if (this.nodes.length === 1) {
        const only = this.nodes[0] as NatsNode;
        if (await only.healthy()) return only.name;
      } else {
        // A killed leader is still named by the survivors until they notice; only a live one counts.
        // ...and the leader must see every running node as a current peer, or placement of new
        // R3 assets fails with "no suitable peers".
        const up = running();
        const views = await Promise.all(up.map((n) => n.metaCluster()));
        const first = views[0]?.leader;
        const leaderView = views[up.findIndex((n) => n.name === first)];
        if (
          first &&
          leaderView &&
          views.every((v) => v?.leader === first) &&
          up.every((n) => n.name === first || leaderView.current.includes(n.name))
        ) {
          return first;
        }
      }
      await sleep(100);
    }
    throw new Error(`no JetStream meta leader agreed within ${timeoutMs} ms`);
  }

  /**
   * Waits until every running node answers /healthz with 200: JetStream has a
   * meta leader and every stream on the node is current (caught up after a restart).
   */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const up = this.nodes.filter((n) => n.state === "running");
      const ok = await Promise.all(up.map((n) => n.healthy()));
      if (ok.every(Boolean)) return;
      await sleep(100);
    }
    throw new Error(`cluster not healthy within ${timeoutMs} ms`);
  }

  /** The tail of every node's log: printed by failing tests. */
  logs(lines = 60): string {
    return this.nodes.map((n) => `----- ${n.name} (${n.state}) ${n.spec.logFile}\n${n.logTail(lines)}`).join("\n");
  }

  /** Kills every node and removes the folder; safe to call twice and after failures. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    await this.teardown();
    if (!this.keepDir) await rm(this.dir, { recursive: true, force: true });
  }
}
