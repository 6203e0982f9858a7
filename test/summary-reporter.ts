import type { Reporter, TestModule } from "vitest/node";

// CI reads one plain last line for the whole suite: `N passed, N failed`.
export default class SummaryReporter implements Reporter {
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
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  }
}
