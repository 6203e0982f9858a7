// `npm run bench [-- --json] [-- --smoke]`: what each guarantee costs, next to the raw NATS
// operation in the same run, on a single node and on a 3-node R3 cluster.
// `--smoke` runs every section briefly and small (bench-options.ts), for CI.
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { NatsCluster, projectRoot, resolveNatsServer } from "@conclave/testkit";
import { authBench } from "./auth-bench.ts";
import { SMOKE } from "./bench-options.ts";
import { benchWorld } from "./bench-world.ts";
import { commandRawBench } from "./command-raw-bench.ts";
import { type Figure, printTable } from "./measure.ts";
import { scaleBench } from "./scale-bench.ts";
import { verifyBench } from "./verify-bench.ts";

const json = process.argv.includes("--json");
const log = (line: string) => {
  if (!json) console.error(line);
};
const bin = await resolveNatsServer();
const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, nats-server ${bin.version}`;
const figures: Figure[] = [];

log("verify…");
figures.push(...verifyBench());
for (const nodes of [1, 3]) {
  const profile = nodes === 1 ? "1 node" : "3 nodes R3";
  log(`${profile}: starting cluster…`);
  const cluster = await NatsCluster.start({ nodes });
  // One world per cluster: Conclave is bootstrapped once, and every section of this profile shares it.
  const world = await benchWorld(cluster);
  try {
    figures.push(...(await authBench(cluster, world, profile)));
    figures.push(...(await commandRawBench(cluster, world, profile)));
    if (nodes === 3) figures.push(...(await scaleBench(world)));
  } finally {
    await world.host.close();
    await cluster.stop();
  }
}

// Sections measured by the services' own scripts and measured tests, run in this same session:
// blob throughput vs raw Object Store (6), revocation propagation (5), contended reservations (4).
function run(args: string[], keep: (line: string) => boolean): string[] {
  const r = spawnSync(process.execPath, args, { cwd: projectRoot(), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  // A section that failed fails the bench (and its smoke in CI), instead of printing fewer lines.
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`.split("\n").filter(keep);
}
log("blob throughput (1 node, 3 nodes)…");
const blobRun = ["--import", "tsx", "test/blob/measure-throughput.ts", ...(SMOKE ? ["--smoke"] : [])];
const blobLine = (l: string) => l.startsWith("|") || l.includes("raw put =");
const blob = [...run(blobRun, blobLine), ...run([...blobRun, "--nodes", "3"], blobLine)];
log("gateway revocation and budgets…");
const gateway = run(
  [
    "node_modules/vitest/vitest.mjs",
    "run",
    "test/gateway/revocation.test.ts",
    "test/gateway/shared-limits.test.ts",
    "-t",
    "measured",
  ],
  (l) => /revocation propagation|reserve\+settle/.test(l),
);

if (json) console.log(JSON.stringify({ machine, figures, blob, gateway }, null, 2));
else {
  console.log(`machine: ${machine}`);
  printTable(figures);
  console.log("\nblob throughput (service vs raw Object Store, same run):");
  for (const line of blob) console.log(line);
  console.log("\ngateway:");
  for (const line of gateway) console.log(line.trim());
}
