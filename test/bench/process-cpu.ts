import { readFileSync } from "node:fs";

// CPU a process spent (user + system), from /proc: what a measured operation
// costs the service and the NATS servers, rather than how long it waited for
// a core. It still moves with the machine's other load (cache misses, less
// batching at lower throughput: 1.1–3.8 ms per signed GET across runs at load
// averages 6–19, docs/benchmarks.md), less than ops/s does. Linux only:
// elsewhere, or for a process gone, undefined.
const TICKS_PER_S = 100; // USER_HZ, 100 on every Linux ABI Node supports

function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command (which may hold spaces): utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` and returns its result with the CPU milliseconds each group of
 * processes spent meanwhile (undefined for a group off Linux or with a pid gone).
 */
export async function withCpu<T, G extends string>(
  groups: Record<G, (number | undefined)[]>,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: Record<G, number | undefined> }> {
  const sum = (pids: (number | undefined)[]) => {
    let total = 0;
    for (const pid of pids) {
      const s = pid === undefined ? undefined : cpuSeconds(pid);
      if (s === undefined) return undefined;
      total += s;
    }
    return total;
  };
  const names = Object.keys(groups) as G[];
  const before = names.map((g) => sum(groups[g]));
  const result = await work();
  const cpuMs = {} as Record<G, number | undefined>;
  names.forEach((g, i) => {
    const [from, to] = [before[i], sum(groups[g])];
    cpuMs[g] = from === undefined || to === undefined ? undefined : (to - from) * 1000;
  });
  return { result, cpuMs };
}

/** "1.23 ms CPU/op": CPU per measured operation, for a row's note (the load's 20 warm-up operations count too: ~1 %). */
export const perOp = (cpuMs: number | undefined, ops: number) =>
  cpuMs === undefined || ops === 0 ? "" : `${(cpuMs / ops).toFixed(2)} ms CPU/op`;
