// Blob throughput through the service next to the raw Object Store, in the same run.
//   npx tsx test/blob/measure-throughput.ts            (single node)
//   npx tsx test/blob/measure-throughput.ts --nodes 3  (3-node cluster, R3 bucket)
//   ... --json                                        (one JSON line of figures: npm run bench)
// Not a test: it prints figures (docs/blobs.md quotes them). The service runs as
// its own OS process, as deployed; the raw operations run from this process,
// which is pinned to its own core (test/bench/pin.ts).
// Rounds alternate service and raw operations so both see the same background
// load (2 cores here); each figure is the median of its rounds.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { get as httpGet } from "node:http";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import type { KeyFile } from "@conclave/auth";
import { DEFAULT_CHUNK_BYTES, DEFAULT_WRITE_WINDOW } from "@conclave/blob";
import { OBJECT_STORES, Store } from "@conclave/store";
import { freePorts, NatsCluster } from "@conclave/testkit";
import { type JetStreamClient, JsHeaders, PubHeaders } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { type ObjectStore, Objm, setSha256Backend } from "@nats-io/obj";
import { type Figure, percentiles, printTable } from "../bench/measure.ts";
import { pinLoadGenerator, pinMeasured, pinningNote } from "../bench/pin.ts";
import { bufferSource, signedHeaders, uploadBlob } from "../support/blob-client.ts";
import { spawnService } from "../support/service-process.ts";
import { startBlobWorld } from "./blob-fixture.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const nodesArg = process.argv.indexOf("--nodes");
const nodes = nodesArg > 0 ? Number(process.argv[nodesArg + 1]) : 1;
// --smoke (npm run bench -- --smoke, in CI): one round of each, the figures only printed.
const smoke = process.argv.includes("--smoke");
// --cpu-prof DIR: the service process writes a V8 CPU profile there when it exits (docs/benchmarks.md).
const profArg = process.argv.indexOf("--cpu-prof");
const profDir = profArg > 0 ? process.argv[profArg + 1] : undefined;
const SIZES = [
  { bytes: MiB, rounds: smoke ? 1 : 15 },
  { bytes: 16 * MiB, rounds: smoke ? 1 : 5 },
];
const SMALL_ROUNDS = smoke ? 3 : 30;
const HASH_ROUNDS = smoke ? 2 : 10;
const SERVICE_PUT = "service PUT (signed, hashed once, streamed)";
const RAW_PUT = "raw Object Store put (native SHA-256, same chunks)";
const SERVICE_GET = "service GET (signed, verified, streamed)";
const RAW_GET = "raw Object Store get (streaming get)";
const RAW_WINDOW_PUT = `raw chunk publishes, ${DEFAULT_WRITE_WINDOW} in flight, + meta (native SHA-256)`;

/**
 * The NATS operations the service's PUT now does, without the service: one SHA-256 pass, the
 * chunks published ${DEFAULT_WRITE_WINDOW} at a time with msg ids, then the meta message (create-only, rollup).
 * The library's put (one chunk at a time) is no longer the like-for-like baseline.
 */
async function rawWindowPut(js: JetStreamClient, name: string, data: Buffer): Promise<void> {
  const nuid = randomUUID().replaceAll("-", "");
  const bucket = OBJECT_STORES.blobs.name;
  const digest = createHash("sha256").update(data).digest("base64").replaceAll("+", "-").replaceAll("/", "_");
  const inFlight: Promise<unknown>[] = [];
  let chunks = 0;
  for (let at = 0; at < data.length; at += DEFAULT_CHUNK_BYTES) {
    const chunk = data.subarray(at, at + DEFAULT_CHUNK_BYTES);
    inFlight.push(js.publish(`$O.${bucket}.C.${nuid}`, chunk, { msgID: `${nuid}.${chunks++}` }));
    if (inFlight.length >= DEFAULT_WRITE_WINDOW) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const h = headers();
  h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, "0");
  h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
  const meta = { bucket, nuid, size: data.length, chunks, name, digest: `SHA-256=${digest}`, deleted: false };
  const subject = `$O.${bucket}.M.${Buffer.from(name).toString("base64").replaceAll("+", "-").replaceAll("/", "_")}`;
  await js.publish(subject, JSON.stringify(meta), { headers: h });
}

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

pinLoadGenerator();
const cluster = await NatsCluster.start({ nodes });
pinMeasured(...cluster.nodes.map((n) => n.pid));
try {
  const world = await startBlobWorld(cluster, nodes === 1 ? 1 : 3);
  // The in-process host provisioned and registered; it goes before measuring, so that no
  // projection runners of it share this load generator's core (issue 16). A plain store does the raw operations.
  await world.host.close();
  const store = await Store.connect({
    ...cluster.connectOptions("operator"),
    name: "bench-load",
    replicas: nodes === 1 ? 1 : 3,
  });
  // At warn, the measured service writes no line per request; its fixed port replaces the "listening" info line.
  const [port] = await freePorts(1);
  const svc = await spawnService(
    "services/blob/src/main.ts",
    {
      ...world.env,
      CONCLAVE_LOG_LEVEL: "warn",
      CONCLAVE_PORT: String(port),
    },
    30_000,
    profDir ? ["--cpu-prof", "--cpu-prof-dir", profDir] : [],
  );
  pinMeasured(svc.child.pid);
  const os: ObjectStore = await new Objm(store.conn.js).open(OBJECT_STORES.blobs.name);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const put = async (data: Buffer) => {
    const res = await uploadBlob({ baseUrl: svc.url, identity: world.bot, source: bufferSource(data) });
    if (res.status !== 201) throw new Error(`PUT ${res.status}`);
  };
  try {
    // Fixed cost of a request: a 1 KiB blob.
    for (let i = 0; i < SMALL_ROUNDS; i++) {
      const data = randomBytes(KiB);
      await timed("service PUT, 1 KiB (fixed cost)", () => put(data));
      await timed("service GET, 1 KiB (fixed cost)", () => download(svc.url, world.bot, sha(data)));
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
        await run(SERVICE_PUT, () => put(data));
        await run(RAW_WINDOW_PUT, () => rawWindowPut(store.conn.js, `${name}/w`, data));
        await run(RAW_PUT, () => os.putBlob({ name, options: { max_chunk_size: DEFAULT_CHUNK_BYTES } }, data));
        await run(SERVICE_GET, async () => {
          if ((await download(svc.url, world.bot, sha(data))) !== bytes) throw new Error("short GET");
        });
        await run(RAW_GET, async () => {
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
    await store.close();
  }
} finally {
  await cluster.stop();
}

// Each operation's latency p50/p99/max over its rounds, MB/s at its median, and the service rows'
// ratio to the raw operation of the same size (MB/s at the medians). Sections of `npm run bench`.
const section = `6 blobs (${nodes === 1 ? "1 node" : `${nodes} nodes R3`})`;
const RAW_OF: Record<string, string> = {
  [SERVICE_PUT]: RAW_WINDOW_PUT,
  [SERVICE_GET]: RAW_GET,
};
const mbps = (what: string) => {
  const [, size = ""] = what.split("|");
  return (Number.parseFloat(size) * MiB) / 1e6 / (median(samples.get(what) ?? []) / 1000);
};
const figures: Figure[] = [];
for (const [what, ms] of samples) {
  const [name = what, size] = what.split("|");
  const raw = RAW_OF[name];
  figures.push({
    section,
    name: size ? `${name}, ${size}` : name,
    ...percentiles(ms),
    ...(size ? { mbPerSec: mbps(what) } : {}),
    ...(raw && size ? { ratio: mbps(what) / mbps(`${raw}|${size}`) } : {}),
    note: `${ms.length} rounds${raw ? "; target ≥ 70%" : ""}`,
  });
}
const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}; chunks ${DEFAULT_CHUNK_BYTES / KiB} KiB; ${pinningNote()}`;
if (process.argv.includes("--json")) console.log(JSON.stringify({ machine, figures }));
else {
  console.log(`machine: ${machine}`);
  printTable(figures);
}
