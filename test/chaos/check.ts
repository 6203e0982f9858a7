// Re-runs the checkers over a finished run's files: npx tsx test/chaos/check.ts <run dir>
// (history.jsonl and final-state.json, as written by run.ts). Exit 1 on any violation.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_OPTIONS } from "./chaos-run.ts";
import type { FinalState } from "./checkers.ts";
import { type MetaRecord, readHistory } from "./history.ts";
import { runCheckers } from "./invariants.ts";
import { computeFigures, renderSummary } from "./summary.ts";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: npx tsx test/chaos/check.ts <run dir>");
  process.exit(2);
}
const history = readHistory(join(dir, "history.jsonl"));
const meta = history.find((r): r is MetaRecord => r.type === "meta");
// The run's own data-plane bounds (meta), else the defaults.
const accessTtlS = Number(meta?.accessTtlS ?? DEFAULT_OPTIONS.accessTtlS);
const dataplaneBoundMs = Number(meta?.dataplaneBoundMs ?? DEFAULT_OPTIONS.dataplaneBoundMs);
const faultSettleMs = Number(meta?.faultSettleMs ?? DEFAULT_OPTIONS.faultSettleMs);
const final = JSON.parse(readFileSync(join(dir, "final-state.json"), "utf8")) as FinalState;
const checks = runCheckers(history, final, {
  revokeBoundMs: DEFAULT_OPTIONS.revokeBoundMs,
  windowMarginMs: DEFAULT_OPTIONS.windowMarginMs,
  recoveryBoundMs: DEFAULT_OPTIONS.recoveryBoundMs,
  dataplaneBoundMs,
  admissionLifetimeMs: accessTtlS * 1_000,
  faultSettleMs,
});
console.log(renderSummary(computeFigures(history), checks, { history: join(dir, "history.jsonl") }));
process.exit(checks.some((c) => c.verdict === "FAIL") ? 1 : 0);
