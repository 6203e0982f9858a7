import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { BlobStore } from "@conclave/blob";
import { Store } from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Regression test for a failure the chaos suite found (docs/chaos.md, finding
// 7): a blob read whose ephemeral consumer sat on a node entering lame-duck
// mode got no first chunk (the node stops JetStream and takes its consumers
// along) and answered 503. Reads and uploads through Stores on every node run
// while one node is put in lame-duck mode, exits and comes back: none may fail.

const OP_TIMEOUT_MS = 2_000;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("blob reads and uploads across a planned restart", () => {
  const cluster = useCluster({ nodes: 3 });
  const stores: Store[] = [];
  const blobStores: BlobStore[] = [];
  const stored: { sha256: string; size: number }[] = [];

  beforeAll(async () => {
    const c = cluster();
    const admin = await Store.connect({ ...c.connectOptions("operator"), name: "provision", replicas: 3 });
    await admin.provision();
    await admin.close();
    for (const node of c.nodes) {
      const store = await Store.connect({
        ...c.connectOptions("operator", [node.url]),
        name: `blob-${node.name}`,
        replicas: 3,
        opTimeoutMs: OP_TIMEOUT_MS,
      });
      stores.push(store);
      blobStores.push(await BlobStore.open(store, { chunkBytes: 64 * 1024 }));
    }
    for (let i = 0; i < 6; i++) {
      const bytes = randomBytes(150 * 1024);
      const blob = await (blobStores[0] as BlobStore).put("acme", sha(bytes), Readable.from([bytes]));
      stored.push({ sha256: blob.sha256, size: blob.size });
    }
  });
  afterAll(() => Promise.all(stores.map((s) => s.close())));

  it("no read or upload fails while a node lame-ducks, exits and comes back", async () => {
    const c = cluster();
    const failures: string[] = [];
    let reads = 0;
    let uploads = 0;
    let stop = false;
    const readLoop = async (k: number) => {
      const blobs = blobStores[k % blobStores.length] as BlobStore;
      for (let i = k; !stop; i++) {
        const want = stored[i % stored.length] as { sha256: string; size: number };
        try {
          const blob = await blobs.stat("acme", want.sha256);
          if (!blob) throw new Error("stat found nothing");
          const chunks: Buffer[] = [];
          for await (const chunk of await blobs.open(blob)) chunks.push(chunk as Buffer);
          if (sha(Buffer.concat(chunks)) !== want.sha256) throw new Error("bytes differ");
          reads++;
        } catch (err) {
          failures.push(`read via ${k % blobStores.length}: ${(err as Error).message}`);
        }
      }
    };
    const uploadLoop = async (k: number) => {
      const blobs = blobStores[k % blobStores.length] as BlobStore;
      while (!stop) {
        const bytes = randomBytes(100 * 1024);
        try {
          await blobs.put("acme", sha(bytes), Readable.from([bytes]));
          uploads++;
        } catch (err) {
          failures.push(
            `upload via ${k % blobStores.length}: ${(err as Error).message} (${((err as Error).cause as Error | undefined)?.name}: ${((err as Error).cause as Error | undefined)?.message})`,
          );
        }
        await sleep(20);
      }
    };
    const loops = [...[0, 1, 2, 3, 4, 5, 6, 7, 8].map(readLoop), ...[0, 1, 2].map(uploadLoop)];

    await sleep(1_500);
    const target = c.nodes[0]?.name as string;
    await c.lameDuck(target);
    await c.node(target).start();
    await c.waitHealthy(30_000);
    await sleep(1_500);
    stop = true;
    await Promise.all(loops);

    console.info(`lame duck of ${target}: ${reads} reads, ${uploads} uploads, ${failures.length} failed`);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(reads).toBeGreaterThan(50);
    expect(uploads).toBeGreaterThan(10);
  });
});
