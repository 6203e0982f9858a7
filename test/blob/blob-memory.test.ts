import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { get as httpGet, type IncomingMessage } from "node:http";
import type { KeyFile } from "@conclave/auth";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchBlob, generatedSource, signedHeaders, type UploadResult, uploadBlob } from "../support/blob-client.ts";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";
import { type BlobWorld, startBlobWorld } from "./blob-fixture.ts";

// Issue 5, item 5: 40 concurrent 16 MiB uploads through the real blob route of a
// blob service process whose in-flight cap is 48 MiB. Its memory is read from
// /proc, so this process (the 40 clients) does not blur the figure.

const MiB = 1024 * 1024;
const CAP = 48 * MiB;
const BLOB = 16 * MiB;
const UPLOADS = 40;

function rssBytes(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? Number.NaN) * 1024;
}

/** Resets the peak RSS the kernel keeps for `pid` (VmHWM); false where not permitted. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

async function inflightBytes(url: string): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const line = metrics.split("\n").find((l) => l.startsWith("conclave_http_inflight_bytes{"));
  return Number(line?.split(" ").at(-1));
}

describe("memory under 40 concurrent 16 MiB uploads against a 48 MiB in-flight cap", () => {
  const cluster = useCluster({ nodes: 1 });
  let w: BlobWorld;
  let svc: ServiceProcess;

  beforeAll(async () => {
    w = await startBlobWorld(cluster(), 1);
    svc = await spawnService("services/blob/src/main.ts", {
      ...w.env,
      CONCLAVE_LOG_LEVEL: "info",
      CONCLAVE_INFLIGHT_BYTES: String(CAP),
      CONCLAVE_BLOB_BODY_BYTES: String(BLOB),
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await w?.host.close();
  });

  it("sheds what does not fit with 503, keeps RSS growth under 1.5 × cap, and recovers", async () => {
    const pid = svc.child.pid;
    if (pid === undefined) throw new Error("no pid");
    const atRest = rssBytes(pid);
    // Warm the path once (JIT, connection buffers) so the baseline is the service at work, not at rest.
    const warm = generatedSource("memory-warm-up", BLOB);
    expect((await uploadBlob({ baseUrl: svc.url, identity: w.bot, source: warm })).status).toBe(201);
    expect((await fetchBlob(svc.url, w.bot, warm.sha256)).status).toBe(200);
    const sources = Array.from({ length: UPLOADS }, (_, i) => generatedSource(`memory-${i}`, BLOB));
    await new Promise((r) => setTimeout(r, 500));
    const baseline = rssBytes(pid);
    const peakReset = resetPeak(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(pid));
    }, 10);

    // Every request reaches the server (and is admitted or shed) before any body byte
    // flows, so all 40 are truly concurrent.
    let release: () => void = () => {};
    const bodies = new Promise<void>((r) => {
      release = r;
    });
    let answered = 0;
    const started = Date.now();
    const uploads = sources.map((source) =>
      uploadBlob({ baseUrl: svc.url, identity: w.bot, source, holdBodyUntil: bodies }).then((r: UploadResult) => {
        answered++;
        return r;
      }),
    );
    const fits = Math.floor(CAP / BLOB);
    await eventually(async () => expect(answered).toBeGreaterThanOrEqual(UPLOADS - fits), 10_000, 20);
    release();
    const results = await Promise.all(uploads);
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes(pid), peakReset ? rssBytes(pid, "VmHWM") : 0);

    const created = results.filter((r) => r.status === 201);
    const shed = results.filter((r) => r.status === 503);
    await eventually(async () => expect(await inflightBytes(svc.url)).toBe(0), 10_000);
    const fresh = generatedSource("memory-fresh", BLOB);
    const freshStatus = (await uploadBlob({ baseUrl: svc.url, identity: w.bot, source: fresh })).status;
    const figures = {
      uploads: UPLOADS,
      created: created.length,
      shed: shed.length,
      other: results.filter((r) => r.status !== 201 && r.status !== 503).map((r) => r.status ?? r.error),
      capMiB: CAP / MiB,
      restRssMiB: +(atRest / MiB).toFixed(1),
      baselineRssMiB: +(baseline / MiB).toFixed(1),
      peakRssGrowthMiB: +((peak - baseline) / MiB).toFixed(1),
      peakGrowthFromRestMiB: +((peak - atRest) / MiB).toFixed(1),
      limitMiB: (1.5 * CAP) / MiB,
      peakFromKernel: peakReset,
      inflightAfter: await inflightBytes(svc.url),
      freshStatus,
      seconds,
    };
    console.log(`blob memory test: ${JSON.stringify(figures)}`);

    expect(created.length).toBeGreaterThanOrEqual(fits);
    expect(created.length + shed.length).toBe(UPLOADS);
    expect(shed.length).toBeGreaterThan(UPLOADS / 2);
    expect(new Set(shed.map((r) => r.headers["retry-after"]))).toEqual(new Set(["1"]));
    expect(peak - baseline).toBeLessThan(1.5 * CAP);
    expect(figures.inflightAfter).toBe(0);
    expect(freshStatus).toBe(201);
    // What was acknowledged is stored whole.
    for (const r of created) {
      const { sha256, size } = r.body as { sha256: string; size: number };
      const head = await fetchBlob(svc.url, w.bot, sha256, "HEAD");
      expect([head.status, head.headers.get("content-length")]).toEqual([200, String(size)]);
    }
  });

  it("slow readers do not make the service buffer whole blobs", async () => {
    const pid = svc.child.pid;
    if (pid === undefined) throw new Error("no pid");
    const source = generatedSource("memory-slow-readers", BLOB);
    expect((await uploadBlob({ baseUrl: svc.url, identity: w.bot, source })).status).toBe(201);
    await new Promise((r) => setTimeout(r, 300));
    const baseline = rssBytes(pid);
    const readers = Array.from({ length: 8 }, () => slowRead(svc.url, w.bot, source.sha256));
    await Promise.all(readers.map((r) => r.paused));
    // Every reader holds its connection open without reading: the service must wait, not buffer.
    await new Promise((r) => setTimeout(r, 1_500));
    const held = rssBytes(pid) - baseline;
    const digests = await Promise.all(readers.map((r) => r.finish()));
    console.log(`blob memory test, 8 paused 16 MiB downloads: RSS growth ${(held / MiB).toFixed(1)} MiB`);
    expect(new Set(digests)).toEqual(new Set([source.sha256]));
    // Buffering whole blobs would take 8 × 16 MiB = 128 MiB.
    expect(held).toBeLessThan(32 * MiB);
  });
});

/** A GET that reads one piece, then stops reading until finish() (a client on a slow link). */
function slowRead(baseUrl: string, identity: KeyFile, sha256: string) {
  const path = `/v1/blobs/${sha256}`;
  const url = new URL(baseUrl);
  const hash = createHash("sha256");
  let response: IncomingMessage | undefined;
  const paused = new Promise<void>((resolve, reject) => {
    const req = httpGet({
      host: url.hostname,
      port: url.port,
      path,
      headers: signedHeaders(identity, "GET", path),
      agent: false,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      response = res;
      res.once("data", (first: Buffer) => {
        hash.update(first);
        res.pause();
        resolve();
      });
    });
  });
  const finish = async (): Promise<string> => {
    if (!response) throw new Error("no response");
    for await (const piece of response) hash.update(piece as Buffer);
    return hash.digest("hex");
  };
  return { paused, finish };
}
