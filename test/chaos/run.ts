// npm run chaos -- --duration 120 --seed 42 --faults kill,pause,restart,replica,quorum,partition
// Runs the chaos suite (test/chaos/chaos-run.ts), prints the summary, exits 1 on any violated invariant.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { projectRoot } from "@conclave/testkit";
import { DEFAULT_OPTIONS, runChaos } from "./chaos-run.ts";
import { availableServices } from "./deployment.ts";
import { FAULT_KINDS, type FaultKind } from "./history.ts";
import type { ServiceName } from "./workload.ts";

const USAGE = `usage: npm run chaos -- [--duration S] [--seed N] [--faults kill,pause,restart,replica,quorum,partition]
       [--services membership,blob,gateway] [--replicas N] [--workers N] [--out DIR] [--op-timeout MS] [--recovery-bound MS] [--hold-scale X]`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    duration: { type: "string" },
    seed: { type: "string" },
    faults: { type: "string" },
    services: { type: "string" },
    replicas: { type: "string" },
    workers: { type: "string" },
    out: { type: "string" },
    "op-timeout": { type: "string" },
    "recovery-bound": { type: "string" },
    "hold-scale": { type: "string" },
    help: { type: "boolean" },
  },
  strict: true,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const num = (name: string, raw: string | undefined, fallback: number, min: number) => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}`);
  return n;
};
const faults = (values.faults ?? DEFAULT_OPTIONS.faults.join(",")).split(",").filter(Boolean);
for (const f of faults)
  if (!FAULT_KINDS.includes(f as FaultKind)) fail(`unknown fault "${f}" (known: ${FAULT_KINDS.join(", ")})`);
const services = (values.services ?? DEFAULT_OPTIONS.services.join(",")).split(",").filter(Boolean);
const available = availableServices();
if (!services.includes("membership"))
  fail("--services must include membership (it holds the users every service reads)");
for (const s of services)
  if (!available.includes(s as ServiceName)) fail(`unknown or absent service "${s}" (here: ${available.join(", ")})`);
const seed = num("seed", values.seed, DEFAULT_OPTIONS.seed, 0);
const outDir =
  values.out ?? join(projectRoot(), "tmp", "chaos", `${new Date().toISOString().replace(/[:.]/g, "-")}-seed${seed}`);

const result = await runChaos({
  ...DEFAULT_OPTIONS,
  durationMs: num("duration", values.duration, DEFAULT_OPTIONS.durationMs / 1000, 10) * 1000,
  seed,
  faults: faults as FaultKind[],
  services: services as ServiceName[],
  replicas: num("replicas", values.replicas, DEFAULT_OPTIONS.replicas, 2),
  workers: num("workers", values.workers, DEFAULT_OPTIONS.workers, 1),
  opTimeoutMs: num("op-timeout", values["op-timeout"], DEFAULT_OPTIONS.opTimeoutMs, 100),
  recoveryBoundMs: num("recovery-bound", values["recovery-bound"], DEFAULT_OPTIONS.recoveryBoundMs, 1_000),
  holdScale: num("hold-scale", values["hold-scale"], DEFAULT_OPTIONS.holdScale, 0.1),
  outDir,
  log: (line) => console.error(line),
});
console.log(result.summary);
console.log(`\nhistory: ${result.historyPath}`);
console.log(result.violations === 0 ? "chaos: all invariants hold" : `chaos: ${result.violations} invariant(s) FAILED`);
process.exit(result.violations === 0 ? 0 : 1);
