import type { Reporter, TestModule } from "vitest/node";

const METRICS = ["lines", "statements", "functions", "branches"] as const;

// The part of istanbul's CoverageMap (what the v8 provider hands to onCoverage) this reporter reads.
interface CoverageTotals {
  getCoverageSummary(): Record<(typeof METRICS)[number], { pct: number }>;
}

// CI reads one plain last line for the whole suite: `N passed, N failed`.
// With --coverage, one line of coverage totals comes just above it (vitest would print its own report after
// the last line, so the provider writes none and this reporter summarises the map it is handed).
export default class SummaryReporter implements Reporter {
  private coverage: string | undefined;

  onCoverage(coverage: unknown): void {
    const totals = (coverage as CoverageTotals).getCoverageSummary();
    const figures = METRICS.map((name) => `${name} ${totals[name].pct}%`).join(", ");
    this.coverage = `coverage of libs/*/src and services/*/src (in-process code only): ${figures}`;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = errors.length;
    for (const mod of modules) {
      let failedInModule = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failedInModule++;
      }
      // A file that failed outside its tests (import error, failing hook) counts once.
      if (mod.state() === "failed" && failedInModule === 0) failedInModule = 1;
      failed += failedInModule;
    }
    if (this.coverage) process.stdout.write(`\n${this.coverage}`);
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  }
}
