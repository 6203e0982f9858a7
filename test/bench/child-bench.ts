import { spawnSync } from "node:child_process";
import { projectRoot } from "@conclave/testkit";
import { SMOKE } from "./bench-options.ts";
import type { Figure } from "./measure.ts";
import { unpinned } from "./pin.ts";

// Sections measured by the services' own script and measured tests, run as children of the bench.

function run(argv: string[]): string {
  const [cmd = process.execPath, ...args] = argv;
  const r = spawnSync(cmd, args, {
    cwd: projectRoot(),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    // Plain lines: vitest colours its output otherwise, and the rows would carry the escapes.
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  // A section that failed fails the bench (and its smoke in CI), instead of printing fewer lines.
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}

/**
 * Section 6: blob throughput against the raw Object Store (test/blob/measure-throughput.ts), on
 * its own single node and 3-node cluster. The script is a load generator like this process: it
 * inherits this core and pins its own NATS servers and service to the others.
 */
export function blobBench(): Figure[] {
  return [1, 3].flatMap((nodes) => {
    const out = run([
      process.execPath,
      "--import",
      "tsx",
      "test/blob/measure-throughput.ts",
      "--json",
      "--nodes",
      String(nodes),
      ...(SMOKE ? ["--smoke"] : []),
    ]);
    const line = out.split("\n").find((l) => l.startsWith('{"machine"'));
    if (!line) throw new Error(`blob throughput printed no figures:\n${out}`);
    return (JSON.parse(line) as { figures: Figure[] }).figures;
  });
}

/**
 * Section 5: revocation propagation and contended reservations, from the gateway's measured
 * tests. Those hold their load and services in one vitest process: run unpinned, on every core.
 */
export function gatewayBench(): Figure[] {
  const out = run(
    unpinned([
      process.execPath,
      "node_modules/vitest/vitest.mjs",
      "run",
      "test/gateway/revocation.test.ts",
      "test/gateway/shared-limits.test.ts",
      "-t",
      "measured",
    ]),
  );
  return out
    .split("\n")
    .filter((l) => /revocation propagation|reserve\+settle/.test(l))
    .map((l) => ({ section: "5 gateway", name: l.includes("revocation") ? "revocation" : "ledger", note: l.trim() }));
}
