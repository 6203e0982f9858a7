// Running docker and docker compose from the container tests.
import { spawn } from "node:child_process";
import { eventually, projectRoot } from "@conclave/testkit";

export const root = projectRoot();

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end (never throws on a non-zero exit); output is captured. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? root,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** `docker ...`, failing with its output when it exits non-zero. */
export async function docker(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run("docker", args, env ? { env } : {});
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Waits until `condition` holds (a condition, never a sleep); fails with `what` after `timeoutMs`. */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  await eventually(async () => {
    if (!(await condition())) throw new Error(`not yet: ${what}`);
  }, timeoutMs);
}
