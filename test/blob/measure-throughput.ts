// Blob throughput through the service next to the raw Object Store, in the same run.
//   npx tsx test/blob/measure-throughput.ts            (single node)
//   npx tsx test/blob/measure-throughput.ts --nodes 3  (3-node cluster, R3 bucket)
//   ... --json                                        (one JSON line of figures: npm run bench)
// Not a test: it prints figures (docs/blobs.md quotes them). The service runs as its own OS
// process, as deployed, and so do the raw operations (raw-blob-worker.ts): both on the measured
// core with NATS, both warmed up the same way, so a ratio compares like with like (the raw
// calls used to run from this load generator's core, which had a core of its own). This process
// only drives: it signs and sends the HTTP requests (test/bench/pin.ts).
// Rounds alternate service and raw operations so both see the same background load (2 cores
// here, shared); each row gives p50/p99/max over its rounds, and MB/s at the median.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { cpus } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { KeyFile } from "@conclave/auth";
import { DEFAULT_CHUNK_BYTES, DEFAULT_WRITE_WINDOW } from "@conclave/blob";
import { freePorts, NatsCluster, projectRoot } from "@conclave/testkit";
import { type Figure, percentiles, printTable } from "../bench/measure.ts";
import { pinLoadGenerator, pinMeasured, pinningNote } from "../bench/pin.ts";
import { type BlobSource, bufferSource, signedHeaders, uploadBlob } from "../support/blob-client.ts";
import { spawnService } from "../support/service-process.ts";
import { startBlobWorld } from "./blob-fixture.ts";
import type { RawAnswer, RawMessage, RawOp } from "./raw-blob-worker.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const nodesArg = process.argv.indexOf("--nodes");
const nodes = nodesArg > 0 ? Number(process.argv[nodesArg + 1]) : 1;
// --smoke (npm run bench -- --smoke, in CI): one round of each, the figures only printed.
const smoke = process.argv.includes("--smoke");
// --cpu-prof DIR: the service process writes a V8 CPU profile there when it exits (docs/benchmarks.md).
const profArg = process.argv.indexOf("--cpu-prof");
const profDir = profArg > 0 ? process.argv[profArg + 1] : undefined;
// Rounds: enough that a p50 is not one noisy round on a shared machine (15 and 5 rounds gave
// 1 MiB PUT ratios from 23 % to 118 % in two runs an hour apart); warm-up rounds are not counted.
const SIZES = [
  { bytes: MiB, rounds: smoke ? 1 : 40 },
  { bytes: 16 * MiB, rounds: smoke ? 1 : 12 },
];
const WARMUP_ROUNDS = smoke ? 1 : 3;
const SMALL_ROUNDS = smoke ? 3 : 40;
const HASH_ROUNDS = smoke ? 2 : 10;
const SERVICE_PUT = "service PUT (signed, hashed once, streamed)";
const RAW_PUT = "raw Object Store put (native SHA-256, same chunks)";
const SERVICE_GET = "service GET (signed, verified, streamed)";
const RAW_GET = "raw Object Store get (streaming get)";
const RAW_WINDOW_PUT = `raw chunk publishes, ${DEFAULT_WRITE_WINDOW} in flight, + meta (native SHA-256)`;

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

/**
 * The raw worker: a process like the service's, on its core. `run` answers the operation's time
 * as this process sees it (one IPC exchange around the NATS calls, as an HTTP exchange is around
 * the service's), so the raw side waits on this core's scheduling as the HTTP client does.
 */
async function spawnRawWorker(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; run(op: RawOp): Promise<number> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/blob/raw-blob-worker.ts"], {
    cwd: projectRoot(),
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting = new Map<number, (a: RawAnswer) => void>();
  child.on("message", (a: RawAnswer) => waiting.get(a.id)?.(a));
  child.once("exit", (code) => {
    for (const [id, answer] of waiting) answer({ id, error: `raw worker exited with ${code}` });
  });
  let next = 0;
  const ask = (msg?: RawMessage) =>
    new Promise<void>((resolve, reject) => {
      const id = msg?.id ?? next;
      waiting.set(id, (a) => {
        waiting.delete(id);
        if ("error" in a) reject(new Error(a.error));
        else resolve();
      });
      if (msg) child.send(msg);
    });
  await ask(); // connected: the worker answers id 0 once it has its store
  return {
    child,
    async run(op) {
      await ask({ id: ++next, prepare: op });
      const t = performance.now();
      await ask({ id: ++next, go: true });
      return performance.now() - t;
    },
  };
}

const samples = new Map<string, number[]>();
const record = (what: string, ms: number) => samples.set(what, [...(samples.get(what) ?? []), ms]);
// With --cpu-prof: when each service operation ran, on the monotonic clock V8's profiles use
// (µs), written next to the profiles so that one operation's samples can be read apart
// (test/bench/profile-top.ts).
const windows: { what: string; from: number; to: number }[] = [];
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
async function timed(what: string, op: () => Promise<unknown>): Promise<void> {
  const t = performance.now();
  const from = monotonicUs();
  await op();
  record(what, performance.now() - t);
  if (profDir) windows.push({ what, from, to: monotonicUs() });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

pinLoadGenerator();
const cluster = await NatsCluster.start({ nodes });
pinMeasured(...cluster.nodes.map((n) => n.pid));
try {
  const world = await startBlobWorld(cluster, nodes === 1 ? 1 : 3);
  // The in-process host provisioned and registered; it goes before measuring, so that no
  // projection runners of it share this load generator's core (issue 16).
  await world.host.close();
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
  const raw = await spawnRawWorker(world.env);
  pinMeasured(raw.child.pid);
  // The client's digest of a blob (its address, and the signed Content-Digest) is taken before
  // the clock starts: it is the client's work, done once per blob whatever the upload costs,
  // and it is not one of the operations the service's guarantee needs (the raw put's one hash
  // pass stands for the service's own). Inside the window it added a 16 MiB hash (30 ms on
  // the load generator's core) to every 16 MiB PUT and GET.
  const put = async (source: BlobSource) => {
    const res = await uploadBlob({ baseUrl: svc.url, identity: world.bot, source });
    if (res.status !== 201) throw new Error(`PUT ${res.status}`);
  };
  try {
    // Fixed cost of a request: a 1 KiB blob.
    for (let i = -WARMUP_ROUNDS; i < SMALL_ROUNDS; i++) {
      const source = bufferSource(randomBytes(KiB));
      const run = (what: string, op: () => Promise<unknown>) => (i < 0 ? op() : timed(what, op));
      await run("service PUT, 1 KiB (fixed cost)", () => put(source));
      await run("service GET, 1 KiB (fixed cost)", () => download(svc.url, world.bot, source.sha256));
    }
    for (const { bytes, rounds } of SIZES) {
      const size = `${bytes / MiB} MiB`;
      for (let i = -WARMUP_ROUNDS; i < rounds; i++) {
        const warm = i < 0; // warm-up rounds take every path once more and are not counted
        const service = async (what: string, op: () => Promise<unknown>) =>
          warm ? void (await op()) : timed(`${what}|${size}`, op);
        const rawOp = async (what: string, op: RawOp) => {
          const ms = await raw.run(op);
          if (!warm) record(`${what}|${size}`, ms);
        };
        const source = bufferSource(randomBytes(bytes));
        const name = `bench/${bytes}/${i}`;
        await service(SERVICE_PUT, () => put(source));
        await rawOp(RAW_WINDOW_PUT, { op: "windowPut", name: `${name}/w`, bytes });
        await rawOp(RAW_PUT, { op: "put", name, bytes });
        await service(SERVICE_GET, async () => {
          if ((await download(svc.url, world.bot, source.sha256)) !== bytes) throw new Error("short GET");
        });
        await rawOp(RAW_GET, { op: "get", name, bytes });
        await rawOp("raw Object Store put (default JS SHA-256)", { op: "jsPut", name: `${name}/js`, bytes });
        if (bytes === 16 * MiB) {
          for (const chunkBytes of [512 * KiB, MiB]) {
            await rawOp(`raw put, native, ${chunkBytes / KiB} KiB chunks`, {
              op: "put",
              name: `${name}/c${chunkBytes}`,
              bytes,
              chunkBytes,
            });
          }
        }
      }
    }
    for (let i = 0; i < HASH_ROUNDS; i++) {
      record("one native SHA-256 pass (node:crypto)|16 MiB", await raw.run({ op: "hash", bytes: 16 * MiB }));
    }
  } finally {
    if (profDir) writeFileSync(join(profDir, "windows.json"), JSON.stringify(windows));
    await svc.stop();
    if (raw.child.connected) {
      const exited = new Promise((r) => raw.child.once("exit", r));
      raw.child.disconnect();
      await exited;
    }
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
