import {
  accepted,
  type BudgetSample,
  type CheckOptions,
  type CheckResult,
  describe,
  type FinalState,
  ok,
  result,
} from "./checkers.ts";
import type { RequestRecord } from "./history.ts";

// Checkers for the blob and gateway parts of the workload.

/** Every 2xx download hashes to its address and has the uploaded size. */
export function checkBlobReads(records: RequestRecord[]): CheckResult {
  const reads = records.filter((r) => r.op === "blob.get" && ok(r.status));
  const bad = reads
    .filter((r) => {
      const got = r.ack as { sha256?: string; size?: number } | undefined;
      return got?.sha256 !== r.summary.sha256 || got?.size !== r.summary.size;
    })
    .map((r) => `${describe(r)}: got ${JSON.stringify(r.ack)}`);
  return result(
    "blob downloads byte-identical",
    reads.length,
    bad,
    `${reads.length} downloads hashed on arrival`,
    reads.length === 0,
  );
}

/** After a token revocation is acknowledged, the token is refused on every gateway replica. */
export function checkTokenRevocations(records: RequestRecord[], opts: CheckOptions): CheckResult {
  const revokedAt = new Map<string, number>();
  for (const r of records) {
    if (r.op !== "token.revoke" || !ok(r.status)) continue;
    const jti = String(r.summary.jti);
    revokedAt.set(jti, Math.min(revokedAt.get(jti) ?? Number.POSITIVE_INFINITY, r.t1));
  }
  const later = records.filter((r) => {
    const at = r.summary.bearer ? revokedAt.get(String(r.summary.jti)) : undefined;
    return at !== undefined && r.t0 > at + opts.revokeBoundMs;
  });
  const bad = later.filter((r) => accepted(r.status)).map(describe);
  return result(
    "revoked tokens refused",
    later.length,
    bad,
    `${revokedAt.size} acknowledged token revocations; ${later.length} later uses of those tokens (bound ${opts.revokeBoundMs} ms), all refused`,
    later.length === 0,
  );
}

/** The acknowledged RPC calls and the usage their answers reported. */
function acknowledgedUsage(records: RequestRecord[]) {
  const calls = records.filter((r) => r.op === "rpc.call" && ok(r.status));
  const usage = { input: 0, output: 0 };
  for (const r of calls) {
    const u = (r.ack as { usage?: { input: number; output: number } } | undefined)?.usage;
    usage.input += u?.input ?? 0;
    usage.output += u?.output ?? 0;
  }
  return { calls, usage };
}

const over = (b: BudgetSample, dim: "input" | "output") => b.used[dim] + b.reserved[dim] > b.limits[dim];

/**
 * No budget read ever shows recorded + reserved usage above the limit, and the
 * usage of every acknowledged metered call fits in the final limit (limits
 * only grow during a run, so that is the largest one ever granted).
 */
export function checkBudgets(records: RequestRecord[], final: FinalState): CheckResult {
  const samples = records
    .filter((r) => r.op === "budget.get" && ok(r.status) && r.ack)
    .map((r) => ({ r, b: r.ack as BudgetSample }));
  const bad = samples
    .filter(({ b }) => over(b, "input") || over(b, "output"))
    .map(({ r, b }) => `${describe(r)}: ${JSON.stringify(b)}`);
  if (final.budget && (over(final.budget, "input") || over(final.budget, "output"))) {
    bad.push(`at the end: ${JSON.stringify(final.budget)}`);
  }
  const { calls, usage } = acknowledgedUsage(records);
  const limits = final.budget?.limits;
  if (limits && (usage.input > limits.input || usage.output > limits.output)) {
    bad.push(`acknowledged calls used ${JSON.stringify(usage)}, above the final limits ${JSON.stringify(limits)}`);
  }
  const refused = records.filter((r) => r.op === "rpc.call" && r.error?.startsWith("budget_exceeded")).length;
  return result(
    "budget never overspent",
    samples.length + calls.length,
    bad,
    `${samples.length} budget reads within their limits; ${calls.length} acknowledged calls used ${usage.input}/${limits?.input ?? "?"} input, ${usage.output}/${limits?.output ?? "?"} output; ${refused} calls refused budget_exceeded; recorded at the end ${JSON.stringify(final.budget?.used ?? "?")}`,
    samples.length + calls.length === 0,
  );
}

/**
 * Every acknowledged call's usage is in the ledger at the end: acknowledged
 * usage ≤ recorded + still reserved, on both dimensions. A settle that never
 * reached the store leaves its reservation to be charged at its estimate when
 * the lease ends (budget-state.ts), so the ledger may over-count — never
 * under-count; an under-count is spend the budget did not see.
 */
export function checkUsageRecorded(records: RequestRecord[], final: FinalState): CheckResult {
  const { calls, usage: acked } = acknowledgedUsage(records);
  const budget = final.budget;
  const seen = budget && {
    input: budget.used.input + budget.reserved.input,
    output: budget.used.output + budget.reserved.output,
  };
  const missing = seen && { input: acked.input - seen.input, output: acked.output - seen.output };
  const bad =
    missing && (missing.input > 0 || missing.output > 0)
      ? [`acknowledged ${JSON.stringify(acked)}, but recorded + reserved ${JSON.stringify(seen)}`]
      : [];
  return result(
    "acknowledged usage recorded",
    calls.length,
    bad,
    seen
      ? `acknowledged ${JSON.stringify(acked)} ≤ recorded + reserved ${JSON.stringify(seen)} at the end (the excess: unanswered calls that ran, leases charged at their estimate)`
      : "budget not read at the end",
    !budget,
  );
}
