import { spawnSync } from "node:child_process";
import { cpus } from "node:os";

// Issue 16 item 6: the load generator (signing, HTTP clients, the raw baselines)
// runs on a core of its own, the measured processes (NATS servers, service
// replicas) on the others. On this 2-core machine: core 0 for the load, core 1
// for everything measured; the raw baselines go through the same pinned NATS
// servers, so ratios stay like with like. Processes outside the bench (other
// engineers' tests) are not pinned: "its own core" is only as exclusive as the
// machine is, and the report states the load average. BENCH_PIN=0 turns it off.
const CORES = cpus().length;
const LOAD_CORE = "0";
const MEASURED_CORES = `1-${CORES - 1}`;
const ALL_CORES = `0-${CORES - 1}`;

export const PINNED =
  CORES >= 2 && process.env.BENCH_PIN !== "0" && spawnSync("taskset", ["-V"], { stdio: "ignore" }).status === 0;

/** Every thread of `pid` onto `cores`; threads it starts later inherit the mask. */
function taskset(cores: string, pid: number | undefined): void {
  if (!PINNED || pid === undefined) return;
  const r = spawnSync("taskset", ["-a", "-cp", cores, String(pid)], { stdio: "ignore" });
  // Fail closed: a bench that says it pinned must have pinned.
  if (r.status !== 0) throw new Error(`taskset ${cores} ${pid} exited with ${r.status}`);
}

/** This process is the load generator. Children inherit its mask until pinned with `pinMeasured`. */
export function pinLoadGenerator(): void {
  taskset(LOAD_CORE, process.pid);
}

/** A measured process (nats-server, service replica) onto the cores the load generator does not use. */
export function pinMeasured(...pids: (number | undefined)[]): void {
  for (const pid of pids) taskset(MEASURED_CORES, pid);
}

/** A command line that runs unpinned (all cores): for child runs that hold load and services in one process. */
export function unpinned(argv: string[]): string[] {
  return PINNED ? ["taskset", "-c", ALL_CORES, ...argv] : argv;
}

export function pinningNote(): string {
  return PINNED
    ? `load generator pinned to core ${LOAD_CORE}, NATS servers and services to cores ${MEASURED_CORES} (taskset)`
    : "not pinned (fewer than 2 cores, no taskset, or BENCH_PIN=0)";
}
