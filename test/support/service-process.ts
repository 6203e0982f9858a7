import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { projectRoot } from "@conclave/testkit";

/** A service replica as a separate OS process, as in production. */
export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
  /** The last lines the process printed (JSON log lines, at most OUTPUT_LINES), for failing tests. */
  output: string[];
}

// A bounded tail: a long-running replica (benchmarks, soaks) must not grow the parent's memory line by line.
const OUTPUT_LINES = 200;

export async function spawnService(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
  /** Extra node flags, e.g. --cpu-prof for profiling (benchmarks). */
  nodeArgs: string[] = [],
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", entry], {
    cwd: projectRoot(),
    env: { ...process.env, CONCLAVE_HOST: "127.0.0.1", CONCLAVE_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (line: string) => {
    output.push(line);
    if (output.length > OUTPUT_LINES) output.shift();
  };
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  child.stderr?.on("data", (b: Buffer) => keep(b.toString()));
  let ready = false;
  // A fixed port needs no "listening" line (an info line): a process logging at
  // warn (benchmarks, no per-request lines) is ready once /healthz answers.
  const port = env.CONCLAVE_PORT && env.CONCLAVE_PORT !== "0" ? env.CONCLAVE_PORT : undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${entry} did not listen in ${timeoutMs} ms:\n${output.join("")}`)),
      timeoutMs,
    );
    lines.on("line", (line) => {
      keep(line);
      // Once listening, lines are only kept (bounded), never parsed: the parent of a measured
      // process does no per-line work (issue 16).
      if (ready) return;
      try {
        const entryLog = JSON.parse(line) as { msg?: string; url?: string };
        if (entryLog.msg === "listening" && entryLog.url) {
          ready = true;
          clearTimeout(timer);
          resolve(entryLog.url);
        }
      } catch {
        // not a log line
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code}:\n${output.join("\n")}`));
    });
    if (port) {
      pollHealthz(`http://127.0.0.1:${port}`, child).then((url) => {
        ready = true;
        clearTimeout(timer);
        resolve(url);
      }, reject);
    }
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    url,
    child,
    output,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function pollHealthz(url: string, child: ChildProcess): Promise<string> {
  while (child.exitCode === null) {
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`exited with ${child.exitCode}`);
}
