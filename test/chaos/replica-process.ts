import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { projectRoot } from "@conclave/testkit";

// The same watchdog as libs/testkit's nats-node.ts: the replica's stdin is a pipe
// from the runner, so if the runner dies in any way (even SIGKILL) the replica dies too.
const WATCHDOG = `exec 3<&0
"$@" </dev/null &
child=$!
echo "$child"
( read -r _ <&3; kill -KILL "$child" 2>/dev/null ) &
wait "$child" 2>/dev/null`;

/**
 * One service replica as a separate OS process (`services/<service>/src/main.ts`),
 * killable with SIGKILL and restartable; each start gets a fresh port, as a
 * rescheduled pod would. Its output goes to a log file.
 */
export class ServiceReplica {
  readonly name: string;
  readonly service: string;
  private readonly entry: string;
  private readonly env: Record<string, string>;
  private readonly log: WriteStream;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  pid?: number;
  url?: string;
  starts = 0;

  /**
   * The node this replica is pinned to: configured with that one NATS URL (as
   * with a NATS server per host), it cannot leave that node when a partition
   * isolates it, so the minority side always has a client to mislead.
   */
  readonly pinnedTo: string | undefined;

  constructor(name: string, service: string, env: Record<string, string>, logFile: string, pinnedTo?: string) {
    this.pinnedTo = pinnedTo;
    this.name = name;
    this.service = service;
    this.entry = `services/${service}/src/main.ts`;
    this.env = env;
    this.log = createWriteStream(logFile, { flags: "a" });
  }

  get running(): boolean {
    return this.url !== undefined;
  }

  async start(timeoutMs = 60_000): Promise<string> {
    if (this.child) throw new Error(`${this.name} is already running`);
    this.starts++;
    const child = spawn("/bin/sh", ["-c", WATCHDOG, "watchdog", process.execPath, "--import", "tsx", this.entry], {
      cwd: projectRoot(),
      env: {
        ...process.env,
        CONCLAVE_HOST: "127.0.0.1",
        CONCLAVE_PORT: "0",
        CONCLAVE_INSTANCE: `${this.name}-${this.starts}`,
        ...this.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once("exit", () => {
        this.url = undefined;
        this.child = undefined;
        this.pid = undefined;
        child.stdin?.end(); // lets the watchdog's reader exit too
        resolve();
      }),
    );
    child.stderr?.on("data", (b: Buffer) => this.log.write(b));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not listen in ${timeoutMs} ms`)), timeoutMs);
      let first = true;
      lines.on("line", (line) => {
        if (first) {
          first = false;
          this.pid = Number(line);
          return;
        }
        this.log.write(`${line}\n`);
        if (this.url) return;
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === "listening" && entry.url) {
            clearTimeout(timer);
            resolve(entry.url);
          }
        } catch {
          // not a log line
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited with ${code} while starting; see its log`));
      });
    });
    this.url = url;
    return url;
  }

  /** SIGKILL: the replica dies mid-request, holding whatever it held. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.url = undefined;
    if (this.pid) process.kill(this.pid, "SIGKILL");
    else this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM (graceful drain), escalating to SIGKILL. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.child) return;
    this.url = undefined;
    if (this.pid) process.kill(this.pid, "SIGTERM");
    const timer = setTimeout(() => void this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    await new Promise((r) => this.log.end(r));
  }
}
