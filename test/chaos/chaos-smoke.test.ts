import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_OPTIONS, runChaos } from "./chaos-run.ts";

// A short chaos run under a fixed seed: SIGKILL of a node, SIGSTOP/SIGCONT of
// a node and quorum loss (two of three nodes killed, then restarted), under a
// live workload through two membership replicas. Every invariant must hold.
// The full suite is `npm run chaos` (docs/chaos.md).

describe("chaos smoke", () => {
  let outDir: string | undefined;
  let keep = false;
  afterAll(async () => {
    if (outDir && !keep) await rm(outDir, { recursive: true, force: true });
  });

  it("kill, pause and quorum loss under load: no invariant is violated", { timeout: 150_000 }, async () => {
    outDir = await mkdtemp(join(tmpdir(), "conclave-chaos-"));
    const result = await runChaos({
      ...DEFAULT_OPTIONS,
      durationMs: 30_000,
      seed: 8,
      faults: ["kill", "pause", "quorum"],
      holdScale: 0.8,
      outDir,
      log: (line) => console.log(line),
    });
    console.log(result.summary);
    const verdict = Object.fromEntries(result.checks.map((c) => [c.name, c.verdict]));
    if (result.violations > 0) {
      keep = true;
      console.error(`history kept: ${result.historyPath}`);
    }
    expect(result.violations).toBe(0);
    // Not vacuous: the faults happened, requests fell inside quorum loss, writes were acknowledged.
    for (const kind of ["kill", "pause", "quorum"]) expect(result.figures.faults[kind]).toBeGreaterThanOrEqual(1);
    expect(verdict["quorum loss: nothing accepted"]).toBe("PASS");
    expect(verdict["acknowledged writes present"]).toBe("PASS");
    expect(verdict["projections equal a rebuild"]).toBe("PASS");
    expect(result.figures.quorumRecovery.length).toBeGreaterThanOrEqual(1);
  });
});
