import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_OPTIONS, runChaos } from "./chaos-run.ts";
import { listeningRemovals } from "./dataplane-checkers.ts";
import { type FaultKind, readHistory } from "./history.ts";

// The CI profile of the chaos suite, under a fixed seed: SIGKILL of a node,
// SIGSTOP/SIGCONT of a node, quorum loss (two of three nodes killed, then
// restarted), quorum lost to one dead and one hung node, a partition isolating
// a node, and a planned restart (lame-duck mode), under a live workload through
// two replicas of every service and of the auth callout, with data-plane bots
// on NATS. Every invariant must hold; the planned restart must fail no request.
// The full suite is `npm run chaos` (docs/chaos.md).

// CHAOS_SEED runs the same profile under another seed (flake hunting: docs/testing.md).
const SEED = Number(process.env.CHAOS_SEED ?? 8);
const KINDS: FaultKind[] = ["kill", "pause", "quorum", "hung-quorum", "partition", "planned"];

describe("chaos smoke", () => {
  let outDir: string | undefined;
  let keep = false;
  afterAll(async () => {
    if (outDir && keep) console.error(`history kept: ${join(outDir, "history.jsonl")}`);
    if (outDir && !keep) await rm(outDir, { recursive: true, force: true });
  });

  it("kill, pause, quorum loss (dead or hung), partition and a planned restart under load: no invariant is violated", {
    timeout: 240_000,
  }, async () => {
    outDir = await mkdtemp(join(tmpdir(), "conclave-chaos-"));
    const result = await runChaos({
      ...DEFAULT_OPTIONS,
      durationMs: 45_000,
      seed: SEED,
      faults: KINDS,
      holdScale: 0.8,
      outDir,
      log: (line) => console.log(line),
    });
    console.log(result.summary);
    const verdict = Object.fromEntries(result.checks.map((c) => [c.name, c.verdict]));
    // Kept unless every assertion below passes.
    keep = true;
    expect(result.violations).toBe(0);
    // Not vacuous: the faults happened, requests fell inside quorum loss, writes were acknowledged.
    for (const kind of KINDS) expect(result.figures.faults[kind]).toBeGreaterThanOrEqual(1);
    expect(verdict["quorum loss: nothing accepted"]).toBe("PASS");
    expect(verdict["planned restart fails no request"]).toBe("PASS");
    expect(verdict["acknowledged writes present"]).toBe("PASS");
    expect(verdict["projections equal a rebuild"]).toBe("PASS");
    expect(result.figures.quorumRecovery.length).toBeGreaterThanOrEqual(1);
    // The data plane ran and was judged: bots admitted, messages delivered, and at least one
    // bot removed or revoked while it was listening.
    expect(verdict["data plane: removed bots receive nothing past the bound"]).toBe("PASS");
    expect(verdict["data plane: no admission of an unregistered or revoked key"]).toBe("PASS");
    const history = readHistory(result.historyPath);
    expect(history.filter((h) => h.type === "admission" && h.admitted).length).toBeGreaterThan(0);
    expect(history.filter((h) => h.type === "delivery").length).toBeGreaterThan(0);
    const judged = listeningRemovals(history, {
      dataplaneBoundMs: DEFAULT_OPTIONS.dataplaneBoundMs,
      revokeBoundMs: DEFAULT_OPTIONS.revokeBoundMs,
      admissionLifetimeMs: DEFAULT_OPTIONS.accessTtlS * 1_000,
      faultSettleMs: DEFAULT_OPTIONS.faultSettleMs,
    });
    expect(judged.removals + judged.revocations).toBeGreaterThan(0);
    keep = false;
  });
});
