// `npm run bench [-- --json] [-- --smoke]`: what each guarantee costs, next to the raw NATS
// operation in the same run, on a single node and on a 3-node R3 cluster.
// `--smoke` runs every section briefly and small (bench-options.ts), for CI.
// `--only <text>` runs only the sections whose title holds <text> (e.g. `--only signed`).
import { cpus, loadavg, totalmem } from "node:os";
import { NatsCluster, resolveNatsServer } from "@conclave/testkit";
import { authBench } from "./auth-bench.ts";
import { ONLY } from "./bench-options.ts";
import { benchWorld } from "./bench-world.ts";
import { blobBench, gatewayBench } from "./child-bench.ts";
import { commandBench } from "./command-bench.ts";
import { dataplaneBench } from "./dataplane-bench.ts";
import { type Figure, printTable } from "./measure.ts";
import { pinLoadGenerator, pinMeasured, pinningNote } from "./pin.ts";
import { readBarrierBench } from "./read-barrier-bench.ts";
import { removalBench } from "./removal-bench.ts";
import { roomsListingBench } from "./rooms-listing-bench.ts";
import { scaleBench } from "./scale-bench.ts";
import { onClusters, once, profileOf, type Section } from "./section.ts";
import { verifyBench } from "./verify-bench.ts";

// Every section, one line each, in the order they run. A section on clusters runs on
// the bench's cluster of each size it names (started once per size, shared by its sections);
// `once` sections before the first cluster section run first, the others after the clusters.
const ALL_SECTIONS: Section[] = [
  once("1 verify", verifyBench),
  onClusters("2-3 signed GET and nonces", [1, 3], authBench),
  onClusters("4 commands", [1, 3], commandBench),
  onClusters("8 read barrier", [1, 3], readBarrierBench),
  onClusters("7 scale", [3], scaleBench),
  onClusters("7 rooms", [3], roomsListingBench),
  once("9 data plane (own server)", dataplaneBench),
  once("10 removal to effect (own servers)", removalBench),
  once("6 blobs (child runs, own clusters)", blobBench),
  once("5 gateway revocation and budgets (measured tests)", gatewayBench),
];
const SECTIONS = ALL_SECTIONS.filter((s) => ONLY === undefined || s.title.includes(ONLY));
if (SECTIONS.length === 0) throw new Error(`--only ${ONLY}: no section title holds it`);

const json = process.argv.includes("--json");
const log = (line: string) => {
  if (!json) console.error(line);
};
pinLoadGenerator();
const bin = await resolveNatsServer();
const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, nats-server ${bin.version}; ${pinningNote()}`;
const figures: Figure[] = [];
const load: number[] = [];
const sample = () => load.push(loadavg()[0] ?? 0);

const firstCluster = SECTIONS.findIndex((s) => s.nodes !== undefined);
const runOnce = async (sections: Section[]) => {
  for (const s of sections) {
    if (s.nodes !== undefined) continue;
    log(`${s.title}…`);
    figures.push(...(await s.run()));
    sample();
  }
};
// No cluster section (e.g. `--only verify`): every `once` section runs here.
await runOnce(firstCluster < 0 ? SECTIONS : SECTIONS.slice(0, firstCluster));
const sizes = [...new Set(SECTIONS.flatMap((s) => s.nodes ?? []))].sort((a, b) => a - b);
for (const nodes of sizes) {
  const profile = profileOf(nodes);
  log(`${profile.name}: starting cluster…`);
  const cluster = await NatsCluster.start({ nodes });
  pinMeasured(...cluster.nodes.map((n) => n.pid));
  const world = await benchWorld(cluster);
  try {
    for (const s of SECTIONS) {
      if (!s.nodes?.includes(nodes)) continue;
      log(`${profile.name}: ${s.title}…`);
      figures.push(...(await s.run({ cluster, world, profile })));
      sample();
    }
  } finally {
    await world.store.close();
    await cluster.stop();
  }
}
if (firstCluster >= 0) await runOnce(SECTIONS.slice(firstCluster));

// The 1-minute load average after each section: other work on the machine shows here.
const loadNote = `load average (1 min) after each section: ${load.map((l) => l.toFixed(2)).join(", ")}`;
if (json) console.log(JSON.stringify({ machine, load: loadNote, figures }, null, 2));
else {
  console.log(`machine: ${machine}`);
  console.log(loadNote);
  printTable(figures);
}
