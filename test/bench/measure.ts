import { performance } from "node:perf_hooks";

export interface Figure {
  section: string;
  name: string;
  opsPerSec: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  /** Our operation relative to its raw NATS baseline in the same run. */
  ratio?: number;
  note?: string;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Runs `op` for about `seconds` with `concurrency` workers; returns throughput and latency percentiles. */
export async function load(
  op: (i: number) => Promise<unknown>,
  opts: { seconds: number; concurrency: number; warmup?: number },
) {
  for (let i = 0; i < (opts.warmup ?? 20); i++) await op(-1 - i);
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const deadline = performance.now() + opts.seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < deadline) {
        const i = next++;
        const t = performance.now();
        try {
          await op(i);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    opsPerSec: latencies.length / elapsed,
    p50Ms: pct(latencies, 50),
    p99Ms: pct(latencies, 99),
    maxMs: latencies.at(-1) ?? 0,
    errors,
    count: latencies.length,
  };
}

/** Synchronous micro-benchmark: ops per second of `op` over about `ms` milliseconds. */
export function micro(op: () => unknown, ms = 1500): number {
  for (let i = 0; i < 200; i++) op();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 50; i++) op();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

export function printTable(figures: Figure[]): void {
  const rows = figures.map((f) => [
    f.section,
    f.name,
    f.opsPerSec >= 100 ? f.opsPerSec.toFixed(0) : f.opsPerSec.toFixed(2),
    f.p50Ms === undefined ? "" : f.p50Ms.toFixed(2),
    f.p99Ms === undefined ? "" : f.p99Ms.toFixed(2),
    f.maxMs === undefined ? "" : f.maxMs.toFixed(2),
    f.ratio === undefined ? "" : `${(f.ratio * 100).toFixed(0)}%`,
    f.note ?? "",
  ]);
  const head = ["section", "measurement", "ops/s", "p50 ms", "p99 ms", "max ms", "vs raw", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
}
