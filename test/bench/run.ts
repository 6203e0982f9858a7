// `npm run bench [-- --json]`: what each guarantee costs, next to the raw NATS
// operation in the same run, on a single node and on a 3-node R3 cluster.
import { cpus, totalmem } from "node:os";
import { NatsCluster, resolveNatsServer } from "@conclave/testkit";
import { authBench } from "./auth-bench.ts";
import { type Figure, printTable } from "./measure.ts";
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
  try {
    figures.push(...(await authBench(cluster, profile)));
  } finally {
    await cluster.stop();
  }
}

if (json) console.log(JSON.stringify({ machine, figures }, null, 2));
else {
  console.log(`machine: ${machine}`);
  printTable(figures);
}
