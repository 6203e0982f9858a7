import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

export interface NodeSpec {
  name: string;
  host: string;
  clientPort: number;
  httpPort: number;
  clusterPort?: number;
  /** Every node's route URL (cluster only). */
  routes?: string[];
  storeDir: string;
  logFile: string;
  configFile: string;
  /** Extra nats-server flags after the config file (flags override it). */
  args?: string[];
  /** The accounts' and routes' variables of deploy/nats (`serverEnv` of the cluster's credentials). */
  env?: Record<string, string>;
  /** Planned stop (SIGUSR2): client closes spread over this (nats-server's minimum, 30s, by default). */
  lameDuckDuration?: string;
  /** Planned stop: warning given to clients before the first close (2s by default: tests stay short). */
  lameDuckGracePeriod?: string;
}

export type NodeState = "running" | "paused" | "stopped";

// Runs nats-server under a tiny sh watchdog whose stdin is a pipe from us: if
// this Node process dies in any way (even SIGKILL), the pipe closes, `read`
// returns and the watchdog kills nats-server. No orphan survives a killed test run.
const WATCHDOG = `exec 3<&0
"$@" </dev/null &
child=$!
echo "$child"
( read -r _ <&3; kill -KILL "$child" 2>/dev/null ) &
wait "$child" 2>/dev/null`;

// Every nats-server pid this process started, for the last-chance exit hook.
const live = new Set<number>();
process.once("exit", () => {
  for (const pid of live) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** One nats-server process with a fixed identity (ports, store dir, log file) across restarts. */
export class NatsNode {
  readonly spec: NodeSpec;
  private readonly bin: string;
  private exited?: Promise<number | null>;
  pid?: number;
  state: NodeState = "stopped";

  constructor(bin: string, spec: NodeSpec) {
    this.bin = bin;
    this.spec = spec;
  }

  get name(): string {
    return this.spec.name;
  }

  get url(): string {
    return `nats://${this.spec.host}:${this.spec.clientPort}`;
  }

  get monitorUrl(): string {
    return `http://${this.spec.host}:${this.spec.httpPort}`;
  }

  async start(timeoutMs = 15_000): Promise<void> {
    if (this.state !== "stopped") throw new Error(`${this.name} is already ${this.state}`);
    const s = this.spec;
    const env = {
      ...process.env,
      ...s.env,
      NATS_SERVER_NAME: s.name,
      NATS_LISTEN: `${s.host}:${s.clientPort}`,
      NATS_HTTP: `${s.host}:${s.httpPort}`,
      NATS_STORE_DIR: s.storeDir,
      NATS_CLUSTER_LISTEN: `${s.host}:${s.clusterPort ?? 0}`,
      NATS_ROUTES: JSON.stringify(s.routes ?? []),
      NATS_LAME_DUCK_DURATION: s.lameDuckDuration ?? "30s",
      NATS_LAME_DUCK_GRACE_PERIOD: s.lameDuckGracePeriod ?? "2s",
    };
    const flags = ["-c", s.configFile, "-l", s.logFile, ...(s.args ?? [])];
    const child = spawn("/bin/sh", ["-c", WATCHDOG, "watchdog", this.bin, ...flags], {
      env,
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ? null : code)));
    const firstLine = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const pid = await new Promise<number>((resolve, reject) => {
      firstLine.once("line", (line) => resolve(Number(line)));
      child.once("error", reject);
      child.once("exit", () => reject(new Error(`${this.name} exited at start; see ${s.logFile}`)));
    });
    firstLine.close();
    this.pid = pid;
    live.add(pid);
    this.state = "running";
    this.exited.then(() => {
      live.delete(pid);
      child.stdin?.end();
      this.state = "stopped";
    });
    await this.waitListening(timeoutMs);
  }

  /** Waits until the monitoring port answers (any status): the process is up, JetStream may still be electing. */
  private async waitListening(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.state === "stopped") throw new Error(`${this.name} exited while starting; see ${this.spec.logFile}`);
      try {
        await fetch(`${this.monitorUrl}/varz`, { signal: AbortSignal.timeout(1000) });
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`${this.name} did not listen within ${timeoutMs} ms; see ${this.spec.logFile}`);
  }

  /** SIGKILL: the crash of a machine, no lame duck, no flush. */
  async kill(): Promise<void> {
    if (this.state === "stopped" || !this.pid) return;
    process.kill(this.pid, "SIGKILL");
    await this.exited;
  }

  /**
   * A planned stop: SIGUSR2 puts the server in lame-duck mode (leaders moved
   * away, JetStream stopped here, clients told, then closed one by one); it
   * exits by itself. Resolves when the process has exited.
   */
  async lameDuck(timeoutMs = 60_000): Promise<void> {
    if (this.state !== "running" || !this.pid) throw new Error(`${this.name} is ${this.state}, cannot lame-duck`);
    process.kill(this.pid, "SIGUSR2");
    const done = await Promise.race([this.exited, sleep(timeoutMs).then(() => "timeout" as const)]);
    if (done === "timeout") {
      await this.kill();
      throw new Error(`${this.name} did not leave lame-duck mode within ${timeoutMs} ms; killed`);
    }
  }

  /** SIGSTOP: a hung process that keeps its sockets open. */
  pause(): void {
    if (this.state !== "running" || !this.pid) throw new Error(`${this.name} is ${this.state}, cannot pause`);
    process.kill(this.pid, "SIGSTOP");
    this.state = "paused";
  }

  resume(): void {
    if (this.state !== "paused" || !this.pid) throw new Error(`${this.name} is ${this.state}, cannot resume`);
    process.kill(this.pid, "SIGCONT");
    this.state = "running";
  }

  /** Graceful stop (SIGTERM), escalating to SIGKILL. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.state === "stopped" || !this.pid) return;
    const pid = this.pid;
    if (this.state === "paused") process.kill(pid, "SIGCONT");
    process.kill(pid, "SIGTERM");
    const done = await Promise.race([this.exited, sleep(graceMs).then(() => "timeout" as const)]);
    if (done === "timeout") await this.kill();
  }

  /** The last lines of the server's log: printed by failing tests. */
  logTail(lines: number): string {
    const file = this.spec.logFile;
    return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-lines).join("\n") : "(no log)";
  }

  /** True when /healthz answers 200 (JetStream enabled, meta leader known, streams current). */
  async healthy(): Promise<boolean> {
    return fetch(`${this.monitorUrl}/healthz`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
  }

  /** This node's view of the JetStream meta group: its leader and which peers it sees as current. */
  async metaCluster(): Promise<{ leader?: string; current: string[] } | undefined> {
    try {
      const res = await fetch(`${this.monitorUrl}/jsz`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as {
        meta_cluster?: { leader?: string; replicas?: { name: string; current: boolean }[] };
      };
      const meta = body.meta_cluster;
      if (!meta) return undefined;
      return {
        ...(meta.leader ? { leader: meta.leader } : {}),
        current: (meta.replicas ?? []).filter((r) => r.current).map((r) => r.name),
      };
    } catch {
      return undefined;
    }
  }
}
