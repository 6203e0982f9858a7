import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatedSource, uploadBlob } from "../support/blob-client.ts";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";
import { type BlobWorld, startBlobWorld } from "./blob-fixture.ts";

// Per-tenant blob quotas held by two blob replicas racing (A in this process, B an OS process).

const QUOTA = { CONCLAVE_BLOB_QUOTA_BYTES: "10000", CONCLAVE_BLOB_QUOTA_COUNT: "3" };

describe("per-tenant blob quotas across two replicas", () => {
  const cluster = useCluster({ nodes: 1 });
  let w: BlobWorld;
  let b: ServiceProcess;

  beforeAll(async () => {
    w = await startBlobWorld(cluster(), 1, QUOTA);
    b = await spawnService("services/blob/src/main.ts", { ...w.env, CONCLAVE_LOG_LEVEL: "info" });
  });
  afterAll(async () => {
    await b?.stop();
    await w?.host.close();
  });

  const errorOf = (body: unknown) => (body as { error: { code: string; message: string } }).error;

  it("six blobs racing on both replicas against a count of 3: three stored, three refused with the numbers", async () => {
    const sources = Array.from({ length: 6 }, (_, i) => generatedSource(`count-${i}`, 100));
    const results = await Promise.all(
      sources.map((source, i) => uploadBlob({ baseUrl: i % 2 === 0 ? w.host.url : b.url, identity: w.bot, source })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    const refused = results.filter((r) => r.status === 403);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(errorOf(r.body)).toMatchObject({
        code: "forbidden",
        message: expect.stringMatching(/^blob quota exceeded: blobs \d+\/3$/),
      });
    }
    // The tenant already has a blob: deduplicated, not charged, so still answered 200 when full.
    const stored = sources[statuses.indexOf(201)];
    if (!stored) throw new Error("nothing stored");
    expect((await uploadBlob({ baseUrl: b.url, identity: w.bot, source: stored })).status).toBe(200);
    // Another tenant is not affected by this one's quota.
    expect(
      (await uploadBlob({ baseUrl: b.url, identity: w.stranger, source: generatedSource("other", 10) })).status,
    ).toBe(201);
  });

  it("four 4,000-byte blobs racing on both replicas against 10,000 bytes: two stored, two refused with the numbers", async () => {
    // The stranger's tenant holds 10 bytes already (previous test): 10 + 2 × 4,000 fits, a third does not.
    const sources = Array.from({ length: 4 }, (_, i) => generatedSource(`bytes-${i}`, 4_000));
    const results = await Promise.all(
      sources.map((source, i) =>
        uploadBlob({ baseUrl: i % 2 === 0 ? w.host.url : b.url, identity: w.stranger, source }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(2);
    const refused = results.filter((r) => r.status === 403);
    expect(refused).toHaveLength(2);
    for (const r of refused) {
      expect(errorOf(r.body).message).toMatch(/^blob quota exceeded: bytes \d+\/10000$/);
      expect(Number(/bytes (\d+)\//.exec(errorOf(r.body).message)?.[1])).toBeGreaterThan(10_000);
    }
  });
});
