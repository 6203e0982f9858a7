import { BLOB_STREAM } from "@conclave/blob";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, fetchBlob, generatedSource, uploadBlob } from "../support/blob-client.ts";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";
import { type BlobWorld, startBlobWorld } from "./blob-fixture.ts";

// Two blob replicas on a 3-node cluster (R3 bucket): A in this process (with
// membership, as the local start), B a separate OS process running the blob
// service alone.

const MiB = 1024 * 1024;

describe("blobs across replicas on a 3-node cluster", () => {
  const cluster = useCluster({ nodes: 3 });
  let w: BlobWorld;
  let b: ServiceProcess;

  beforeAll(async () => {
    w = await startBlobWorld(cluster(), 3);
    b = await spawnService("services/blob/src/main.ts", { ...w.env, CONCLAVE_LOG_LEVEL: "info" });
  });
  afterAll(async () => {
    await b?.stop();
    await w?.host.close();
  });

  it("a blob written through one replica is read (and deduplicated) through the other, both ways", async () => {
    const viaA = generatedSource("via-a", 3 * MiB + 17);
    const viaB = generatedSource("via-b", 2 * MiB);
    expect((await uploadBlob({ baseUrl: w.host.url, identity: w.bot, source: viaA })).status).toBe(201);
    expect((await uploadBlob({ baseUrl: b.url, identity: w.bot, source: viaB })).status).toBe(201);
    for (const [url, source] of [
      [b.url, viaA],
      [w.host.url, viaB],
    ] as const) {
      const res = await fetchBlob(url, w.bot, source.sha256);
      expect([res.status, res.status === 200 ? "" : res.bytes.toString()]).toEqual([200, ""]);
      expect(res.bytes.equals(collect(source))).toBe(true);
    }
    expect((await uploadBlob({ baseUrl: b.url, identity: w.bot, source: viaA })).status).toBe(200);
    expect((await fetchBlob(b.url, w.stranger, viaA.sha256, "HEAD")).status).toBe(404);
  });

  it("an acknowledged blob survives SIGKILL of the Object Store stream leader: read back through the other replica", async () => {
    const source = generatedSource("survivor", 4 * MiB + 3);
    const put = await uploadBlob({ baseUrl: w.host.url, identity: w.bot, source });
    expect(put.status).toBe(201);

    const info = await w.host.ctx.store.conn.jsm.streams.info(BLOB_STREAM);
    const leader = info.cluster?.leader;
    if (!leader) throw new Error("the blob stream has no leader");
    expect(info.config.num_replicas).toBe(3);
    await cluster().kill(leader);
    const killedAt = Date.now();

    const got = await eventually(async () => {
      const res = await fetchBlob(b.url, w.bot, source.sha256);
      if (res.status !== 200) throw new Error(`still ${res.status}`);
      return res;
    }, 60_000);
    const readAfterMs = Date.now() - killedAt;
    expect(got.headers.get("etag")).toBe(`"${source.sha256}"`);
    expect(got.bytes.equals(collect(source))).toBe(true);

    // And the surviving majority takes new blobs.
    const fresh = generatedSource("after-failover", MiB);
    await eventually(async () => {
      const res = await uploadBlob({ baseUrl: b.url, identity: w.bot, source: fresh });
      if (res.status !== 201) throw new Error(`still ${res.status}`);
    }, 60_000);
    const newLeader = (await w.host.ctx.store.conn.jsm.streams.info(BLOB_STREAM)).cluster?.leader;
    console.log(
      `killed blob stream leader ${leader}: read back through replica B after ${readAfterMs} ms, ` +
        `new upload after ${Date.now() - killedAt} ms (new leader ${newLeader})`,
    );
    expect(newLeader).not.toBe(leader);
  });
});
