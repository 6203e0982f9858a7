// `npm start`: Conclave on one machine. An embedded single-node NATS server
// (provisioned by libs/testkit, data under .conclave/), the store catalogue
// provisioned on it, and — as the services land — every route on one port.
import { join } from "node:path";
import { Store } from "@conclave/store";
import { NatsCluster, projectRoot, resolveNatsServer } from "@conclave/testkit";
import { z } from "zod";

const env = z
  .object({
    CONCLAVE_DATA_DIR: z.string().min(1).default(join(process.cwd(), ".conclave")),
    CONCLAVE_NATS_PORT: z.coerce.number().int().min(1).max(65535).default(4222),
  })
  .safeParse(process.env);
if (!env.success) {
  for (const issue of env.error.issues) console.error(`config error: ${issue.path.join(".")}: ${issue.message}`);
  process.exit(2);
}
const config = env.data;

const bin = await resolveNatsServer({ log: (line) => console.log(line) });
console.log(`nats-server ${bin.version} (${bin.source})`);
const nats = await NatsCluster.start({
  nodes: 1,
  dir: join(config.CONCLAVE_DATA_DIR, "nats"),
  keepDir: true,
  clientPort: config.CONCLAVE_NATS_PORT,
});
const store = await Store.connect({ servers: nats.urls, name: "conclave-local", replicas: 1 });
await store.provision();
console.log(`NATS JetStream ready at ${nats.urls[0]} (data in ${nats.dir}, log ${nats.nodes[0]?.spec.logFile})`);
console.log(`store provisioned: buckets, event log, audit stream and blob store (project ${projectRoot()})`);
console.log("Ctrl-C stops everything.");

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping`);
  await store.close().catch(() => {});
  await nats.stop();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
