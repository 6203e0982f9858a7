import { spawn } from "node:child_process";
import { projectRoot } from "@conclave/testkit";
import { describe, expect, it } from "vitest";

// The bench is a script nothing else runs; this runs it end to end, briefly
// and small (`npm run bench -- --smoke`), so it cannot break silently again
// (issue 16: it crashed at section 7 for weeks). Only the exit status and the
// presence of every section's rows are asserted; the figures are printed.
// Each entry: substrings one printed row must hold together.
const SECTIONS = [
  ["| 1 verify "],
  ...["1 node", "3 nodes R3"].flatMap((p) => [
    [`| 2 e2e (${p}) `, "signed GET"],
    [`| 3 nonce (${p}) `, "nonce claims"],
    [`| 4 commands (${p}) `, "(create)"],
    [`| 4 commands (${p}) `, "(invite)"],
    [`| 4 commands (${p}) `, "(rekey)"],
    [`| 4 commands (${p}) `, "raw append + a room create's plan writes"],
    [`| 6 blobs (${p}) `, "service PUT (signed, hashed once, streamed), 1 MiB"],
    [`| 6 blobs (${p}) `, "service GET (signed, verified, streamed), 16 MiB"],
    [`| 8 read barrier (${p}) `],
  ]),
  ["| 7 scale "],
  ["| 7 rooms "],
  ["| 9 data plane (1 node) "],
  ["| 10 removal (2 nodes) "],
  ["| 5 gateway ", "reserve+settle pairs/s"],
  ["| 5 gateway ", "revocation propagation"],
];

function runSmoke(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/bench/run.ts", "--smoke"], {
    cwd: projectRoot(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe("npm run bench -- --smoke", () => {
  it("exits 0 and prints rows for every section", { timeout: 300_000 }, async () => {
    const started = Date.now();
    const { code, stdout, stderr } = await runSmoke();
    console.log(`${stdout}\nbench smoke: ${((Date.now() - started) / 1000).toFixed(0)} s wall`);
    expect(code, stderr.slice(-4_000)).toBe(0);
    const lines = stdout.split("\n");
    for (const parts of SECTIONS)
      expect(
        lines.some((l) => parts.every((p) => l.includes(p))),
        parts.join(" … "),
      ).toBe(true);
  });
});
