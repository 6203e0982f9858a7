// `npm start`: Conclave on one machine. An embedded single-node NATS server
// (provisioned by libs/testkit, data under .conclave/) with the accounts of
// deploy/nats (credentials generated on first start under .conclave/credentials/,
// mode 0600, reused after), every service's routes on one loopback port, the
// access service (auth callout: bots on NATS), and on first start a bootstrap
// admin with its key file.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createAccessModule, loadAccessConfig } from "@conclave/access";
import { generateIdentity, readKeyFile, writeKeyFile } from "@conclave/auth";
import { blobModule } from "@conclave/blob";
import { gatewayModule } from "@conclave/gateway";
import { membershipModule, userCommands } from "@conclave/membership";
import { ConfigError, loadServiceEnv, startHost } from "@conclave/runtime";
import { loadOrCreateCredentials, NatsCluster, resolveNatsServer, seedFileOf } from "@conclave/testkit";
import { z } from "zod";

const localEnv = z
  .object({
    CONCLAVE_DATA_DIR: z.string().min(1).default(join(process.cwd(), ".conclave")),
    CONCLAVE_NATS_PORT: z.coerce.number().int().min(1).max(65535).default(4222),
  })
  .safeParse(process.env);
if (!localEnv.success) {
  for (const issue of localEnv.error.issues) console.error(`config error: ${issue.path.join(".")}: ${issue.message}`);
  process.exit(2);
}
const { CONCLAVE_DATA_DIR: dataDir, CONCLAVE_NATS_PORT: natsPort } = localEnv.data;

const bin = await resolveNatsServer({ log: (line) => console.log(line) });
console.log(`nats-server ${bin.version} (${bin.source})`);
const credentialsDir = join(dataDir, "credentials");
const credentials = await loadOrCreateCredentials(credentialsDir);
const nats = await NatsCluster.start({
  nodes: 1,
  dir: join(dataDir, "nats"),
  keepDir: true,
  clientPort: natsPort,
  credentials,
});

const base = {
  CONCLAVE_NATS_URLS: nats.urls.join(","),
  CONCLAVE_REPLICAS: "1",
  CONCLAVE_LOG_LEVEL: "warn",
  ...process.env,
  // The local start serves loopback only: cleartext rooms are allowed there and nowhere else.
  CONCLAVE_HOST: "127.0.0.1",
};
let env: ReturnType<typeof loadServiceEnv>;
let accessEnv: ReturnType<typeof loadServiceEnv>;
let accessConfig: ReturnType<typeof loadAccessConfig>;
try {
  // One process serves the three modules on one connection: the gateway's user (it sends RPC calls).
  env = loadServiceEnv({ ...base, CONCLAVE_NATS_SEED: credentials.seeds.gateway });
  // The callout is its own host on its own user (the only one that may answer callouts), on a free port.
  const access = {
    ...base,
    CONCLAVE_PORT: "0",
    CONCLAVE_NATS_SEED: credentials.seeds.access,
    CONCLAVE_ACCESS_ISSUER_SEED: credentials.issuer,
    // The restricted system user: closes a removed or revoked bot's connections (live disconnect).
    CONCLAVE_NATS_SYSTEM_SEED: credentials.system,
  };
  accessEnv = loadServiceEnv(access);
  accessConfig = loadAccessConfig(access);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : (err as Error).message);
  await nats.stop();
  process.exit(2);
}
const host = await startHost({ env, modules: [membershipModule, blobModule, gatewayModule] });
const access = await startHost({ env: accessEnv, modules: [createAccessModule({ config: accessConfig })] });

const keyPath = join(dataDir, "admin.key.json");
const fresh = !existsSync(keyPath);
const admin = fresh ? generateIdentity({ name: "admin", tenant: "local", url: host.url }) : await readKeyFile(keyPath);
// Idempotent: on a later start it completes an interrupted bootstrap, or upgrades a
// bootstrap admin of an earlier version to operator (docs/runbook.md).
await userCommands(host.ctx).bootstrap({
  sign_pub: admin.signPublicKey,
  kex_pub: admin.kexPublicKey,
  tenant: admin.tenant,
  role: "operator",
  scopes: [],
  name: admin.name,
});
if (fresh) {
  await writeKeyFile(keyPath, admin);
  console.log(`bootstrapped the first operator; its key file (mode 0600): ${keyPath}`);
} else {
  console.log(`operator key file: ${keyPath} (${admin.signPublicKey})`);
}

console.log(
  `NATS credentials (mode 0600): ${credentialsDir}; the CLI on NATS: --nats-seed-file ${seedFileOf(credentialsDir, "operator")}`,
);
console.log(`access service (auth callout) at ${access.url}`);
console.log(`Conclave is up at ${host.url} (NATS ${nats.urls[0]}, data in ${dataDir})`);
console.log(`try: curl ${host.url}/readyz   (every /v1 route takes RFC 9421 signed requests: docs/auth.md)`);
console.log("Ctrl-C stops everything.");

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping`);
  await host.close().catch((err) => console.error(err));
  await access.close().catch((err) => console.error(err));
  await nats.stop();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
