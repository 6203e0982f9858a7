import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { formatContentDigest } from "@conclave/auth";
import { BlobQuota, BlobStore, objectName, receiveUpload, type StoredBlob, type UploadRequest } from "@conclave/blob";
import { ApiError } from "@conclave/protocol";
import { ConflictError, OBJECT_STORES, Store } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { Objm } from "@nats-io/obj";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bufferSource } from "../support/blob-client.ts";

// The upload path below HTTP, against a real node: the races and failures whose
// timing an HTTP client cannot pin down.

const CHUNK = 128 * 1024;

describe("blob uploads against the Object Store", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  let blobs: BlobStore;
  let quota: BlobQuota;

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "blob-upload-test", replicas: 1 });
    await store.provision();
    blobs = await BlobStore.open(store);
    quota = new BlobQuota({ store, limits: { bytes: 1e9, count: 1e6 }, leaseMs: 60_000, now: Date.now });
  });
  afterAll(async () => {
    await store?.close();
  });

  const streamState = async () => (await store.conn.jsm.streams.info(blobs.stream)).state;
  // `existing`: what the route's lookup (sent with authentication) found; nothing, unless a test says.
  const request = (bytes: Buffer, body: PassThrough, existing?: StoredBlob): UploadRequest => {
    const { sha256 } = bufferSource(bytes);
    return {
      tenant: "acme",
      sha256,
      body,
      contentDigest: formatContentDigest(Buffer.from(sha256, "hex")),
      hasBody: true,
      declaredBytes: bytes.length,
      ceilingBytes: 16 * 1024 * 1024,
      existing: () => existing,
    };
  };

  it("writes the library's layout: the library reads the object back and its own digest check passes", async () => {
    // The put writes chunks and the meta message itself (windowed); any NATS client must still read it.
    const bytes = randomBytes(3 * CHUNK + 17);
    const { sha256 } = bufferSource(bytes);
    const stored = await blobs.put("acme", sha256, new PassThrough().end(bytes));
    expect(stored).toMatchObject({ size: bytes.length, chunks: 4 });
    const os = await new Objm(store.conn.js).open(OBJECT_STORES.blobs.name);
    const read = await os.getBlob(objectName("acme", sha256));
    expect(Buffer.from(read ?? []).equals(bytes)).toBe(true);
  });

  it("of two concurrent uploads of one blob, one commits and the loser of the create-only meta write answers 'exists'", async () => {
    const bytes = randomBytes(10 * CHUNK);
    const before = await streamState();
    // Both uploads looked the blob up (with their authentication) and found nothing before either body flows.
    expect(await blobs.stat("acme", bufferSource(bytes).sha256)).toBeUndefined();
    const bodies = [new PassThrough(), new PassThrough()];
    const uploads = bodies.map((body) => receiveUpload(blobs, quota, request(bytes, body)));
    for (const body of bodies) body.end(bytes);
    const outcomes = await Promise.all(uploads);
    expect(outcomes.map((o) => o.created).sort()).toEqual([false, true]);
    expect(outcomes.map((o) => o.size)).toEqual([bytes.length, bytes.length]);
    const after = await streamState();
    expect(after.messages).toBe(before.messages + 10 + 1);
    // Both wrote their ten chunks; only the winner's meta message committed.
    expect(after.last_seq).toBe(before.last_seq + 2 * 10 + 1);
  });

  it("a put over an existing name loses with Conflict and leaves the stored blob as it was", async () => {
    const bytes = randomBytes(3 * CHUNK);
    const { sha256 } = bufferSource(bytes);
    const first = await blobs.put("acme", sha256, new PassThrough().end(bytes));
    const before = await streamState();
    await expect(blobs.put("acme", sha256, new PassThrough().end(bytes))).rejects.toBeInstanceOf(ConflictError);
    expect((await streamState()).messages).toBe(before.messages);
    expect(await blobs.stat("acme", sha256)).toEqual(first);
  });

  it("a body that fails mid-stream fails the put with its own error, and nothing is left", async () => {
    const bytes = randomBytes(6 * CHUNK);
    const body = new PassThrough();
    const before = await streamState();
    const upload = receiveUpload(blobs, quota, request(bytes, body));
    body.write(bytes.subarray(0, 4 * CHUNK));
    await eventually(async () => expect((await streamState()).last_seq).toBeGreaterThan(before.last_seq + 2), 5_000);
    body.destroy(new ApiError("bad_request", "request body ended early"));
    await expect(upload).rejects.toMatchObject({ code: "bad_request", message: "request body ended early" });
    expect((await streamState()).messages).toBe(before.messages);
    expect(await blobs.stat("acme", bufferSource(bytes).sha256)).toBeUndefined();
  });
});
