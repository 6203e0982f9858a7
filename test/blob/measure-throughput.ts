// Blob throughput through the service next to the raw Object Store, in the same run.
//   npx tsx test/blob/measure-throughput.ts            (single node)
//   npx tsx test/blob/measure-throughput.ts --nodes 3  (3-node cluster, R3 bucket)
// Not a test: it prints figures (docs/blobs.md quotes them). The service runs as
// its own OS process, as deployed; the raw operations run from this process.
// Rounds alternate service and raw operations so both see the same background
// load (2 cores here); each figure is the median of its rounds.
import { createHash, randomBytes } from "node:crypto";
import { get as httpGet } from "node:http";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import type { KeyFile } from "@conclave/auth";
import { DEFAULT_CHUNK_BYTES } from "@conclave/blob";
import { OBJECT_STORES } from "@conclave/store";
import { freePorts, NatsCluster } from "@conclave/testkit";
import { type ObjectStore, Objm, setSha256Backend } from "@nats-io/obj";
import { bufferSource, signedHeaders, uploadBlob } from "../support/blob-client.ts";
import { spawnService } from "../support/service-process.ts";
import { startBlobWorld } from "./blob-fixture.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const nodesArg = process.argv.indexOf("--nodes");
const nodes = nodesArg > 0 ? Number(process.argv[nodesArg + 1]) : 1;
// --smoke (npm run bench -- --smoke, in CI): one round of each, the figures only printed.
const smoke = process.argv.includes("--smoke");
const SIZES = [
  { bytes: MiB, rounds: smoke ? 1 : 15 },
  { bytes: 16 * MiB, rounds: smoke ? 1 : 5 },
];
const SMALL_ROUNDS = smoke ? 3 : 30;
const HASH_ROUNDS = smoke ? 2 : 10;

/** GET through node:http, counting bytes as they arrive (the upload client is node:http too). */
function download(baseUrl: string, identity: KeyFile, sha256: string): Promise<number> {
  const path = `/v1/blobs/${sha256}`;
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: url.hostname, port: url.port, path, headers: signedHeaders(identity, "GET", path) });
    req.on("error", reject);
    req.on("response", async (res) => {
      if (res.statusCode !== 200) reject(new Error(`GET ${res.statusCode}`));
      let n = 0;
      for await (const piece of res) n += (piece as Buffer).length;
      resolve(n);
    });
  });
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const piece of stream) n += piece.length;
  return n;
}

const samples = new Map<string, number[]>();
async function timed(what: string, op: () => Promise<unknown>): Promise<void> {
  const t = performance.now();
  await op();
  const ms = performance.now() - t;
  samples.set(what, [...(samples.get(what) ?? []), ms]);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const cluster = await NatsCluster.start({ nodes });
try {
  const world = await startBlobWorld(cluster, nodes === 1 ? 1 : 3);
  // At warn, the measured service writes no line per request; its fixed port replaces the "listening" info line.
  const [port] = await freePorts(1);
  const svc = await spawnService("services/blob/src/main.ts", {
    ...world.env,
    CONCLAVE_LOG_LEVEL: "warn",
    CONCLAVE_PORT: String(port),
  });
  const os: ObjectStore = await new Objm(world.host.ctx.store.conn.js).open(OBJECT_STORES.blobs.name);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const put = async (data: Buffer) => {
    const res = await uploadBlob({ baseUrl: svc.url, identity: world.bot, source: bufferSource(data) });
    if (res.status !== 201) throw new Error(`PUT ${res.status}`);
  };
  try {
    // Fixed cost of a request: a 1 KiB blob.
    for (let i = 0; i < SMALL_ROUNDS; i++) {
      const data = randomBytes(KiB);
      await timed("small PUT", () => put(data));
      await timed("small GET", () => download(svc.url, world.bot, sha(data)));
    }
    for (const { bytes, rounds } of SIZES) {
      const size = `${bytes / MiB} MiB`;
      for (let i = -1; i < rounds; i++) {
        const warm = i < 0; // first round warms every path up and is not counted
        const run = async (what: string, op: () => Promise<unknown>) =>
          warm ? void (await op()) : timed(`${what}|${size}`, op);
        const data = randomBytes(bytes);
        const name = `bench/${bytes}/${i}`;
        setSha256Backend("native");
        await run("service PUT (signed, hashed once, streamed)", () => put(data));
        await run("raw Object Store put (native SHA-256)", () =>
          os.putBlob({ name, options: { max_chunk_size: DEFAULT_CHUNK_BYTES } }, data),
        );
        await run("service GET (signed, verified, streamed)", async () => {
          if ((await download(svc.url, world.bot, sha(data))) !== bytes) throw new Error("short GET");
        });
        await run("raw Object Store get (streaming get)", async () => {
          const res = await os.get(name);
          if (!res || (await drain(res.data)) !== bytes) throw new Error("short raw get");
        });
        setSha256Backend("js");
        await run("raw Object Store put (default JS SHA-256)", () => os.putBlob({ name: `${name}/js` }, data));
        setSha256Backend("native");
        if (bytes === 16 * MiB) {
          for (const chunk of [512 * KiB, MiB]) {
            await run(`raw put, native, ${chunk / KiB} KiB chunks`, () =>
              os.putBlob({ name: `${name}/c${chunk}`, options: { max_chunk_size: chunk } }, data),
            );
          }
        }
      }
    }
    const data = randomBytes(16 * MiB);
    for (let i = 0; i < HASH_ROUNDS; i++) {
      await timed("one native SHA-256 pass (node:crypto)|16 MiB", async () =>
        createHash("sha256").update(data).digest(),
      );
    }
  } finally {
    await svc.stop();
    await world.host.close();
  }
} finally {
  await cluster.stop();
}

const mbps = (what: string) => {
  const [, size = ""] = what.split("|");
  const bytes = Number.parseFloat(size) * MiB;
  return bytes / 1e6 / (median(samples.get(what) ?? []) / 1000);
};
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}; ` +
    `${nodes === 1 ? "single node" : `${nodes} nodes, R3 bucket`}; chunks ${DEFAULT_CHUNK_BYTES / KiB} KiB`,
);
console.log(
  `fixed cost (1 KiB blob, median): PUT ${median(samples.get("small PUT") ?? []).toFixed(1)} ms, ` +
    `GET ${median(samples.get("small GET") ?? []).toFixed(1)} ms`,
);
console.log("| operation | size | MB/s (median) |");
console.log("| --- | --- | --- |");
for (const what of samples.keys()) {
  if (!what.includes("|")) continue;
  const [name, size] = what.split("|");
  console.log(`| ${name} | ${size} | ${mbps(what).toFixed(0)} |`);
}
for (const size of ["1 MiB", "16 MiB"]) {
  const ratio = (a: string, b: string) => (mbps(`${a}|${size}`) / mbps(`${b}|${size}`)).toFixed(2);
  console.log(
    `${size}: service PUT / raw put = ${ratio("service PUT (signed, hashed once, streamed)", "raw Object Store put (native SHA-256)")}, ` +
      `service GET / raw get = ${ratio("service GET (signed, verified, streamed)", "raw Object Store get (streaming get)")}`,
  );
}
