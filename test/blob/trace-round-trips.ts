// The NATS round trips of one signed blob PUT and GET, on a timeline: which requests the
// service sends, which overlap, and how many the client waits through one after another.
//   npx tsx test/blob/trace-round-trips.ts [--bytes N]
// Not a test: it prints (docs/benchmarks.md, "Where the time goes now (blobs)"). A count of
// sequential round trips does not move with the machine's load, unlike the MB/s of
// measure-throughput.ts, so it shows what a change took off a request even on a busy machine.
// One in-process host (membership + blobs, as the local start), one node; every request
// the host's connection sends is timed (JetStream publishes and API calls are requests).
import { createHash, randomBytes } from "node:crypto";
import { ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { NatsCluster } from "@conclave/testkit";
import { bufferSource, fetchBlob, uploadBlob } from "../support/blob-client.ts";
import { startBlobWorld } from "./blob-fixture.ts";

const bytesArg = process.argv.indexOf("--bytes");
const SIZES = bytesArg > 0 ? [Number(process.argv[bytesArg + 1])] : [1024, 1024 * 1024];
const WARMUP = 5;

interface Trip {
  subject: string;
  from: number;
  to: number;
}

/** Subjects without their ids: the kind of request is what matters. */
function kind(subject: string): string {
  return subject
    .replace(/^\$JS\.API\./, "")
    .replace(/^\$O\.[^.]+\.C\..*/, "publish chunk")
    .replace(/^\$O\.[^.]+\.M\..*/, "publish meta")
    .replace(/^\$KV\.([^.]+)\..*/, "publish kv $1")
    .replace(/(CONSUMER\.(CREATE|DELETE)\.[^.]+)\..*/, "$1");
}

/** Round trips one after another: each that starts after every earlier one has answered. */
function sequential(trips: Trip[]): number {
  let n = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const t of [...trips].sort((a, b) => a.from - b.from)) {
    if (t.from >= end) n++;
    end = Math.max(end, t.to);
  }
  return n;
}

const cluster = await NatsCluster.start({ nodes: 1 });
try {
  const world = await startBlobWorld(cluster, 1);
  const nc = world.host.ctx.store.conn.nc;
  let trips: Trip[] | undefined;
  const request = nc.request.bind(nc);
  nc.request = (async (subject, ...rest) => {
    const from = performance.now();
    try {
      return await request(subject, ...rest);
    } finally {
      trips?.push({ subject, from, to: performance.now() });
    }
  }) as typeof nc.request;
  // When the service ended its answer (the host is in this process): requests after it are off the answer's path.
  let answeredAt = 0;
  const end = ServerResponse.prototype.end;
  ServerResponse.prototype.end = function (this: ServerResponse, ...args: unknown[]) {
    answeredAt = performance.now();
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof end;

  const print = (what: string, ms: number, answeredAt: number, t: Trip[]) => {
    const start = Math.min(...t.map((x) => x.from));
    // Awaited by the answer: answered before it went out. Those still running then were not awaited.
    const awaited = t.filter((x) => x.to <= answeredAt);
    console.log(
      `${what}: ${ms.toFixed(1)} ms; ${awaited.length} requests answered before the service's answer, ` +
        `${sequential(awaited)} of them one after another (${t.length - awaited.length} not awaited)`,
    );
    for (const x of [...t].sort((a, b) => a.from - b.from)) {
      const after = x.to > answeredAt ? "   (not awaited)" : "";
      console.log(
        `  +${(x.from - start).toFixed(1).padStart(6)} ..${(x.to - start).toFixed(1).padStart(6)} ms  ${kind(x.subject)}${after}`,
      );
    }
  };
  for (const bytes of SIZES) {
    for (let i = 0; i <= WARMUP; i++) {
      const data = randomBytes(bytes);
      trips = [];
      let t = performance.now();
      const put = await uploadBlob({ baseUrl: world.host.url, identity: world.bot, source: bufferSource(data) });
      const putMs = performance.now() - t;
      const putAnswered = answeredAt;
      await new Promise((r) => setTimeout(r, 50)); // what the service still does after answering
      const putTrips = trips;
      trips = [];
      t = performance.now();
      const got = await fetchBlob(world.host.url, world.bot, createHash("sha256").update(data).digest("hex"));
      const getMs = performance.now() - t;
      const getAnswered = answeredAt;
      await new Promise((r) => setTimeout(r, 50));
      const getTrips = trips;
      trips = undefined;
      if (put.status !== 201 || got.status !== 200) throw new Error(`PUT ${put.status}, GET ${got.status}`);
      if (i < WARMUP) continue;
      print(`PUT ${bytes} bytes`, putMs, putAnswered, putTrips);
      print(`GET ${bytes} bytes`, getMs, getAnswered, getTrips);
    }
  }
  await world.host.close();
} finally {
  await cluster.stop();
}
