import { randomBytes } from "node:crypto";
import { BLOB_STREAM, EMPTY_SHA256 } from "@conclave/blob";
import { OBJECT_STORES } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BlobSource,
  bufferSource,
  collect,
  fetchBlob,
  generatedSource,
  uploadBlob,
} from "../support/blob-client.ts";
import { type BlobWorld, objectStreamState, startBlobWorld, storedNames, storedObject } from "./blob-fixture.ts";

// The blob routes on one node, in-process: every limit, rejection and fault of
// an upload first, then downloads, ranges and tenancy. The store-failure test
// runs last (it deletes the bucket's stream).

const MiB = 1024 * 1024;
const errorOf = (body: unknown) => (body as { error?: { code?: string; reason?: string; message?: string } }).error;

describe("blob routes on a single node", () => {
  const cluster = useCluster({ nodes: 1 });
  let w: BlobWorld;

  beforeAll(async () => {
    w = await startBlobWorld(cluster(), 1);
  });
  afterAll(async () => {
    await w?.host.close();
  });

  const put = (source: BlobSource, extra: Partial<Parameters<typeof uploadBlob>[0]> = {}) =>
    uploadBlob({ baseUrl: w.host.url, identity: w.bot, source, ...extra });

  it("bytes that do not hash to the URL's address are read, refused with 400, and leave no object and no chunk", async () => {
    const claimed = bufferSource(randomBytes(1024));
    const sent = bufferSource(randomBytes(2 * MiB));
    const before = await objectStreamState(w.host);
    // URL and signed Content-Digest agree with each other, the bytes do not.
    const res = await put(sent, { sha256: claimed.sha256, contentDigestSha256: claimed.sha256 });
    expect([res.status, errorOf(res.body)?.reason]).toEqual([400, "digest_mismatch"]);
    const after = await objectStreamState(w.host);
    // The chunks were written while streaming (the sequence moved on) and purged on the
    // failed flush: the meta message that would make the object visible never was.
    expect(after.lastSeq).toBeGreaterThan(before.lastSeq + 10);
    expect(after.messages).toBe(before.messages);
    for (const sha of [claimed.sha256, sent.sha256]) {
      expect((await fetchBlob(w.host.url, w.bot, sha, "HEAD")).status).toBe(404);
      expect(await storedObject(w.host, "acme", sha)).toBeNull();
    }
    expect((await storedNames(w.host)).filter((n) => n.endsWith(claimed.sha256))).toEqual([]);
  });

  it("a signed Content-Digest that differs from the address is refused before any byte is stored", async () => {
    const sent = bufferSource(randomBytes(MiB));
    const before = await objectStreamState(w.host);
    const res = await put(sent, { contentDigestSha256: EMPTY_SHA256 });
    expect([res.status, errorOf(res.body)?.reason]).toEqual([400, "digest_mismatch"]);
    expect(await objectStreamState(w.host)).toEqual(before);
    expect((await fetchBlob(w.host.url, w.bot, sent.sha256, "HEAD")).status).toBe(404);
  });

  it("an oversize upload is refused with 413, declared or streamed (chunked), and nothing is stored", async () => {
    const big = generatedSource("oversize", 16 * MiB + 1);
    const before = await objectStreamState(w.host);
    const declared = await put(big);
    expect([declared.status, errorOf(declared.body)?.reason]).toEqual([413, "body_size"]);
    expect(await objectStreamState(w.host)).toEqual(before);

    const streamed = await put(big, { chunked: true });
    expect([streamed.status, errorOf(streamed.body)?.reason]).toEqual([413, "body_size"]);
    expect((await objectStreamState(w.host)).messages).toBe(before.messages);
    expect((await fetchBlob(w.host.url, w.bot, big.sha256, "HEAD")).status).toBe(404);
    expect(await storedObject(w.host, "acme", big.sha256)).toBeNull();
    expect(w.host.ctx.edge.inflight.inFlightBytes()).toBe(0);
  });

  it("a client that vanishes mid-upload leaves no object, no chunk, and no in-flight reservation", async () => {
    const source = generatedSource("vanishing", 8 * MiB);
    const before = await objectStreamState(w.host);
    const res = await put(source, { abortAfterBytes: 3 * MiB });
    expect(res.error).toBe("aborted by test");
    await eventually(async () => {
      expect(w.host.ctx.edge.inflight.inFlightBytes()).toBe(0);
      expect((await objectStreamState(w.host)).messages).toBe(before.messages);
    }, 10_000);
    expect((await objectStreamState(w.host)).lastSeq).toBeGreaterThan(before.lastSeq);
    expect((await fetchBlob(w.host.url, w.bot, source.sha256, "HEAD")).status).toBe(404);
    expect(await storedObject(w.host, "acme", source.sha256)).toBeNull();
  });

  it("unsigned requests are 401, users without blob scopes 403, malformed addresses 400", async () => {
    const source = bufferSource(randomBytes(1000));
    expect((await put(source, { identity: undefined })).status).toBe(401);
    expect((await fetchBlob(w.host.url, undefined, source.sha256)).status).toBe(401);
    expect((await fetchBlob(w.host.url, undefined, source.sha256, "HEAD")).status).toBe(401);
    expect((await put(source, { identity: w.roomsOnly })).status).toBe(403);
    expect((await fetchBlob(w.host.url, w.roomsOnly, source.sha256)).status).toBe(403);
    for (const bad of [source.sha256.toUpperCase(), source.sha256.slice(1), `${source.sha256}00`, "x".repeat(64)]) {
      const res = await put(source, { sha256: bad });
      expect([bad, res.status]).toEqual([bad, 400]);
      expect((await fetchBlob(w.host.url, w.bot, bad)).status).toBe(400);
    }
  });

  it("1 MiB and 16 MiB blobs round-trip byte for byte, with Content-Length, ETag and Content-Type", async () => {
    for (const size of [MiB, 16 * MiB]) {
      const source = generatedSource(`round-trip-${size}`, size);
      const res = await put(source);
      expect([res.status, res.body]).toEqual([201, { sha256: source.sha256, size }]);

      const got = await fetchBlob(w.host.url, w.bot, source.sha256);
      expect(got.status).toBe(200);
      expect(got.headers.get("content-length")).toBe(String(size));
      expect(got.headers.get("etag")).toBe(`"${source.sha256}"`);
      expect(got.headers.get("content-type")).toBe("application/octet-stream");
      expect(got.bytes.equals(collect(source))).toBe(true);

      const head = await fetchBlob(w.host.url, w.bot, source.sha256, "HEAD");
      expect([head.status, head.headers.get("content-length"), head.bytes.length]).toEqual([200, String(size), 0]);
    }
    expect(w.host.ctx.edge.inflight.inFlightBytes()).toBe(0);
  });

  it("uploading bytes the tenant already has answers 200 and stores nothing new; wrong bytes are still 400", async () => {
    const source = bufferSource(randomBytes(MiB + 5));
    expect((await put(source)).status).toBe(201);
    const before = await objectStreamState(w.host);
    const again = await put(source);
    expect([again.status, again.body]).toEqual([200, { sha256: source.sha256, size: source.size }]);
    expect(await objectStreamState(w.host)).toEqual(before);

    const liar = await put(bufferSource(randomBytes(MiB + 5)), {
      sha256: source.sha256,
      contentDigestSha256: source.sha256,
    });
    expect([liar.status, errorOf(liar.body)?.reason]).toEqual([400, "digest_mismatch"]);
    expect((await fetchBlob(w.host.url, w.bot, source.sha256)).bytes.equals(collect(source))).toBe(true);
    const metrics = await (await fetch(`${w.host.url}/metrics`)).text();
    for (const outcome of ["created", "deduplicated", "digest_mismatch"]) {
      expect(metrics).toMatch(new RegExp(`conclave_blob_uploads_total\\{outcome="${outcome}"\\} [1-9]`));
    }
  });

  it("two concurrent uploads of the same blob: one 201, one 200, one object", async () => {
    const source = generatedSource("concurrent", 4 * MiB);
    const before = await objectStreamState(w.host);
    let release: () => void = () => {};
    const bodies = new Promise<void>((r) => {
      release = r;
    });
    const racing = [put(source, { holdBodyUntil: bodies }), put(source, { holdBodyUntil: bodies })];
    // Both requests get past authentication and find no blob before either body flows.
    await new Promise((r) => setTimeout(r, 500));
    release();
    const statuses = (await Promise.all(racing)).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 201]);
    const after = await objectStreamState(w.host);
    const chunks = (4 * MiB) / (128 * 1024);
    expect(after.messages).toBe(before.messages + chunks + 1);
    // Usually both streamed their chunks and the loser's create-only meta write lost (its chunks
    // purged); a slow loser finds the blob first and drains. blob-upload.test.ts pins the race.
    expect([before.lastSeq + chunks + 1, before.lastSeq + 2 * chunks + 1]).toContain(after.lastSeq);
    expect((await fetchBlob(w.host.url, w.bot, source.sha256)).bytes.equals(collect(source))).toBe(true);
  });

  it("another tenant cannot see a blob, and storing the same bytes is new for it (201)", async () => {
    const source = bufferSource(randomBytes(300_000));
    expect((await put(source)).status).toBe(201);
    expect((await fetchBlob(w.host.url, w.stranger, source.sha256)).status).toBe(404);
    expect((await fetchBlob(w.host.url, w.stranger, source.sha256, "HEAD")).status).toBe(404);
    const theirs = await put(source, { identity: w.stranger });
    expect(theirs.status).toBe(201);
    expect((await fetchBlob(w.host.url, w.stranger, source.sha256)).bytes.equals(collect(source))).toBe(true);
    const unknown = bufferSource(randomBytes(10));
    expect((await fetchBlob(w.host.url, w.bot, unknown.sha256)).status).toBe(404);
  });

  it("serves single byte ranges (206), refuses unsatisfiable ones (416), and answers If-None-Match (304)", async () => {
    const bytes = randomBytes(300_000); // three chunks of at most 128 KiB
    const source = bufferSource(bytes);
    expect((await put(source)).status).toBe(201);
    const range = async (value: string) => fetchBlob(w.host.url, w.bot, source.sha256, "GET", { range: value });
    for (const [header, start, end] of [
      ["bytes=0-99", 0, 99],
      ["bytes=131000-263000", 131000, 263000], // across two chunk boundaries
      ["bytes=299990-", 299990, 299999],
      ["bytes=-10", 299990, 299999],
      ["bytes=299000-400000", 299000, 299999],
    ] as const) {
      const res = await range(header);
      expect([header, res.status, res.headers.get("content-range")]).toEqual([
        header,
        206,
        `bytes ${start}-${end}/300000`,
      ]);
      expect(res.bytes.equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    for (let i = 0; i < 15; i++) {
      const start = Math.floor(Math.random() * 300_000);
      const end = start + Math.floor(Math.random() * (300_000 - start));
      const res = await range(`bytes=${start}-${end}`);
      expect([start, end, res.status, res.bytes.equals(bytes.subarray(start, end + 1))]).toEqual([
        start,
        end,
        206,
        true,
      ]);
    }
    const beyond = await range("bytes=300000-");
    expect([beyond.status, beyond.headers.get("content-range")]).toEqual([416, "bytes */300000"]);
    const several = await range("bytes=0-1,5-6");
    expect([several.status, several.bytes.length]).toEqual([200, 300_000]);
    const cached = await fetchBlob(w.host.url, w.bot, source.sha256, "GET", { "if-none-match": `"${source.sha256}"` });
    expect([cached.status, cached.bytes.length]).toEqual([304, 0]);
  });

  it("stores and serves the empty blob", async () => {
    const empty = bufferSource(Buffer.alloc(0));
    expect(empty.sha256).toBe(EMPTY_SHA256);
    const res = await put(empty);
    expect([res.status, res.body]).toEqual([201, { sha256: EMPTY_SHA256, size: 0 }]);
    const got = await fetchBlob(w.host.url, w.bot, EMPTY_SHA256);
    expect([got.status, got.headers.get("content-length"), got.bytes.length]).toEqual([200, "0", 0]);
  });

  it("a visible object whose chunks are gone is never served (503), and uploading it again repairs it (201)", async () => {
    // What a put leaves behind when its meta write timed out yet was applied: the library
    // purged the chunks, the meta message stands.
    const source = bufferSource(randomBytes(400_000));
    expect((await put(source)).status).toBe(201);
    const info = await storedObject(w.host, w.bot.tenant, source.sha256);
    if (!info) throw new Error("blob not stored");
    await w.host.ctx.store.conn.jsm.streams.purge(BLOB_STREAM, {
      filter: `$O.${OBJECT_STORES.blobs.name}.C.${info.nuid}`,
    });

    const broken = await fetchBlob(w.host.url, w.bot, source.sha256);
    expect([broken.status, broken.headers.get("content-type")]).toEqual([503, "application/json; charset=utf-8"]);
    const repaired = await put(source);
    expect([repaired.status, repaired.body]).toEqual([201, { sha256: source.sha256, size: source.size }]);
    expect((await fetchBlob(w.host.url, w.bot, source.sha256)).bytes.equals(collect(source))).toBe(true);
  });

  it("when the store cannot answer, uploads and reads fail closed with 503 and leak nothing internal", async () => {
    const source = bufferSource(randomBytes(200_000));
    expect((await put(source)).status).toBe(201);
    const jsm = w.host.ctx.store.conn.jsm;
    await jsm.streams.delete(BLOB_STREAM);
    try {
      const upload = await put(bufferSource(randomBytes(1000)));
      const read = await fetchBlob(w.host.url, w.bot, source.sha256);
      const head = await fetchBlob(w.host.url, w.bot, source.sha256, "HEAD");
      expect([upload.status, read.status, head.status]).toEqual([503, 503, 503]);
      for (const answer of [JSON.stringify(upload.body), read.bytes.toString()]) {
        expect(answer).toContain("the store is unavailable");
        expect(answer).not.toMatch(/OBJ_|conclave_blobs|stream|\$O\./);
      }
      expect([upload.headers["retry-after"], read.headers.get("retry-after")]).toEqual(["1", "1"]);
    } finally {
      await w.host.ctx.store.provision();
    }
    const after = await put(bufferSource(randomBytes(1000)));
    expect(after.status).toBe(201);
  });
});
