// Top self-time functions of a V8 CPU profile (node --cpu-prof), optionally only the samples taken
// while one measured operation ran (windows.json, written by measure-throughput.ts --cpu-prof DIR).
//   npx tsx test/bench/profile-top.ts DIR/CPU.….cpuprofile [DIR/windows.json "service PUT …|1 MiB"] [--top 25]
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [profilePath, windowsPath, operation] = process.argv
  .slice(2)
  .filter((a, i, all) => a !== "--top" && all[i - 1] !== "--top");
const topArg = process.argv.indexOf("--top");
const top = topArg > 0 ? Number(process.argv[topArg + 1]) : 25;
if (!profilePath) throw new Error("usage: profile-top.ts PROFILE [WINDOWS OPERATION] [--top N]");
const profile = JSON.parse(readFileSync(profilePath, "utf8")) as Profile;
const windows = windowsPath
  ? (JSON.parse(readFileSync(windowsPath, "utf8")) as { what: string; from: number; to: number }[]).filter(
      (w) => w.what === operation,
    )
  : undefined;
if (windows?.length === 0) throw new Error(`no window named ${operation}`);

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
let at = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i] ?? 0;
  if (windows && !windows.some((w) => at >= w.from && at <= w.to)) continue;
  const frame = nodes.get(profile.samples[i] ?? -1)?.callFrame;
  if (!frame) continue;
  const where = frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(services|libs)\//, "$1/");
  const name = `${frame.functionName || "(anonymous)"} ${where}${where ? `:${frame.lineNumber + 1}` : ""}`;
  const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's time runs until the next one
  self.set(name, (self.get(name) ?? 0) + dt);
  total += dt;
}
console.log(
  `${operation ?? "whole profile"}: ${(total / 1000).toFixed(0)} ms sampled${windows ? ` in ${windows.length} runs` : ""}`,
);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(1).padStart(8)} ms  ${name}`);
}
