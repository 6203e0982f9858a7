import { randomUUID } from "node:crypto";
import { pipeline, type Readable } from "node:stream";
import {
  type ConnectionGate,
  OBJECT_STORES,
  retryingJetStream,
  type Store,
  toStoreError,
  UnavailableError,
  withDeadline,
} from "@conclave/store";
import { type JetStreamClient, type JetStreamManager, JsHeaders, PubHeaders } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { type ObjectInfo, type ObjectStore, Objm } from "@nats-io/obj";
import { objectName } from "./blob-address.ts";
import { type ByteSpan, openChunkReader } from "./chunk-reader.ts";
import { writeChunks } from "./chunk-writer.ts";
import { DigestVerifier } from "./digest-verifier.ts";

/** A blob as the Object Store holds it, under its tenant's name. */
export interface StoredBlob {
  tenant: string;
  sha256: string;
  size: number;
  chunks: number;
  /** Id of the object's chunks: they live on their own subject. */
  nuid: string;
  /** Stream sequence of the object's meta message. */
  revision: number;
}

export interface BlobStoreOptions {
  /** Bytes per Object Store chunk (one JetStream message). */
  chunkBytes?: number;
  /** Chunks a download may hold ahead of a slow client. */
  readAheadChunks?: number;
  /** A download whose next chunk does not arrive within this is cut (the client sees a short body). */
  readStallMs?: number;
  /** Chunk publishes an upload keeps in flight (chunk-writer.ts); 1 is the library's one at a time. */
  writeWindow?: number;
}

const KiB = 1024;
export const DEFAULT_CHUNK_BYTES = 128 * KiB;
/** Chunk publishes an upload keeps in flight: 4 × 128 KiB held per upload at most. */
export const DEFAULT_WRITE_WINDOW = 4;

/** The JetStream stream behind the blob bucket (Object Store layout: `OBJ_<bucket>`). */
export const BLOB_STREAM = `OBJ_${OBJECT_STORES.blobs.name}`;

/**
 * Blobs in the replicated Object Store bucket of the catalogue, one object per
 * (tenant, sha256). Object Store layout (ADR-20, the same in every NATS
 * client): an object's bytes are messages on `$O.<bucket>.C.<nuid>`, and the
 * object becomes visible only when its meta message on `$O.<bucket>.M.<name>`
 * is written, after the last chunk. A put that fails before that leaves no
 * object, and the put purges the chunks it wrote.
 */
export class BlobStore {
  readonly bucket = OBJECT_STORES.blobs.name;
  readonly stream = BLOB_STREAM;
  private readonly os: ObjectStore;
  private readonly js: JetStreamClient;
  private readonly retrying: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly opTimeoutMs: number;
  private readonly gate: ConnectionGate;
  private readonly chunkBytes: number;
  private readonly readAheadChunks: number;
  private readonly readStallMs: number;
  private readonly writeWindow: number;

  private constructor(os: ObjectStore, retrying: JetStreamClient, store: Store, opts: BlobStoreOptions) {
    this.os = os;
    this.js = store.conn.js;
    this.retrying = retrying;
    this.jsm = store.conn.jsm;
    this.opTimeoutMs = store.opTimeoutMs;
    this.gate = store.conn.gate;
    this.chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.readAheadChunks = opts.readAheadChunks ?? 8;
    this.readStallMs = opts.readStallMs ?? Math.max(5_000, 5 * store.opTimeoutMs);
    this.writeWindow = opts.writeWindow ?? DEFAULT_WRITE_WINDOW;
  }

  /** Opens the catalogue's blob bucket (provisioned by the host at start). */
  static async open(store: Store, opts: BlobStoreOptions = {}): Promise<BlobStore> {
    // The library only reads meta messages here (`info`); puts and reads are ours, so its
    // SHA-256 is never used. The retrying client (msg ids, retries inside the timeout) serves
    // those reads and the in-order resend and meta write of a put, so a leadership move
    // does not fail an upload.
    const js = retryingJetStream(store.conn.js, store.opTimeoutMs);
    const os = await withDeadline("open blob bucket", store.opTimeoutMs, () =>
      new Objm(js).open(OBJECT_STORES.blobs.name, false),
    );
    return new BlobStore(os, js, store, opts);
  }

  private chunkSubject(nuid: string): string {
    return `$O.${this.bucket}.C.${nuid}`;
  }

  /**
   * The tenant's blob, or undefined. A leader read of the meta message (never a
   * direct get): a blob acknowledged through one replica is seen by every other.
   */
  async stat(tenant: string, sha256: string): Promise<StoredBlob | undefined> {
    const info = await withDeadline("blob stat", this.opTimeoutMs, () => this.os.info(objectName(tenant, sha256)), {
      retry: true,
      gate: this.gate,
    });
    if (!info || info.deleted) return undefined;
    return toStoredBlob(tenant, sha256, info);
  }

  /**
   * True when every chunk the meta message promises is in the stream. A put whose
   * meta write timed out but was applied anyway has had its chunks purged by the
   * put: that object is visible yet empty, and must be written again.
   */
  async intact(blob: StoredBlob): Promise<boolean> {
    if (blob.chunks === 0) return true;
    const subject = this.chunkSubject(blob.nuid);
    const info = await withDeadline(
      "blob chunk count",
      this.opTimeoutMs,
      () => this.jsm.streams.info(this.stream, { subjects_filter: subject }),
      { retry: true, gate: this.gate },
    );
    return (info.state.subjects?.[subject] ?? 0) === blob.chunks;
  }

  /**
   * Streams `source` into the tenant's object, in the Object Store layout
   * (ADR-20; read back by the library's `info` and our chunk reader): chunks on
   * a fresh nuid's subject, a window of them in flight (chunk-writer.ts), then
   * the meta message. Create-only: the meta message is written with an
   * expected last subject sequence (0 for a new name, or the revision of the
   * broken object it replaces), so of two concurrent uploads of the same blob
   * exactly one commits and the other fails with ConflictError. Nothing is
   * visible before the meta message; on any failure the chunks written are
   * purged. If `body` fails — digest mismatch, oversize, client gone — its
   * own error is thrown. The digest recorded is the address: the bytes are
   * checked against it before the meta message (by the route's DigestVerifier
   * when `body` is one: one hash per upload, not the library's second).
   */
  async put(tenant: string, sha256: string, body: Readable, replaces?: StoredBlob): Promise<StoredBlob> {
    const source = checked(body, sha256);
    const nuid = randomUUID().replaceAll("-", "");
    const subject = this.chunkSubject(nuid);
    let failure: unknown;
    async function* own(): AsyncGenerator<Uint8Array> {
      try {
        yield* source;
      } catch (err) {
        failure = err ?? new Error("upload source failed");
        throw failure;
      }
    }
    try {
      // One unit of work for the connection gate: a lame-duck move waits (up to the
      // operation timeout) for an upload in progress rather than cutting it.
      return await this.gate.run(async () => {
        // Each publish is bounded by the operation timeout; the whole upload is not
        // (it goes at the client's pace, bounded by the edge's request timeout).
        const written = await writeChunks(own(), {
          js: this.js,
          retrying: this.retrying,
          subject,
          idPrefix: nuid,
          chunkBytes: this.chunkBytes,
          window: this.writeWindow,
          timeoutMs: this.opTimeoutMs,
        });
        if (!source.verified) throw new UnavailableError("blob put: the source ended unverified");
        const revision = await this.commitMeta(tenant, sha256, nuid, written, replaces?.revision ?? 0);
        // The replaced object's chunks are garbage now; failing to purge them loses nothing.
        if (replaces) void this.purge(this.chunkSubject(replaces.nuid)).catch(() => {});
        return { tenant, sha256, ...written, nuid, revision };
      });
    } catch (err) {
      await this.purge(subject).catch(() => {});
      if (failure !== undefined) throw failure;
      // The body is left unread: the edge answers with Connection: close.
      throw toStoreError(err, "blob put");
    }
  }

  /** The meta message (ADR-20 fields, as the library writes them), create-only at `previousRevision`. */
  private async commitMeta(
    tenant: string,
    sha256: string,
    nuid: string,
    written: { size: number; chunks: number },
    previousRevision: number,
  ): Promise<number> {
    const name = objectName(tenant, sha256);
    const info = {
      bucket: this.bucket,
      nuid,
      ...written,
      name,
      description: "",
      options: { max_chunk_size: this.chunkBytes },
      mtime: new Date().toISOString(),
      digest: `SHA-256=${paddedBase64url(Buffer.from(sha256, "hex"))}`,
      deleted: false,
    };
    const h = headers();
    h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(previousRevision));
    h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
    const metaSubject = `$O.${this.bucket}.M.${paddedBase64url(Buffer.from(name))}`;
    const ack = await this.retrying.publish(metaSubject, JSON.stringify(info), {
      headers: h,
      timeout: this.opTimeoutMs,
    });
    return ack.seq;
  }

  private purge(subject: string): Promise<unknown> {
    return withDeadline("blob purge", this.opTimeoutMs, () => this.jsm.streams.purge(this.stream, { filter: subject }));
  }

  /**
   * The blob's bytes (or one span of them) as a Readable with backpressure: at
   * most `readAheadChunks` chunks are pulled ahead of the client. The first
   * chunk is awaited here, so a store that cannot serve fails before any
   * response header is sent (503, not a truncated 200).
   */
  open(blob: StoredBlob, span?: ByteSpan): Promise<Readable> {
    return openChunkReader({
      js: this.js,
      gate: this.gate,
      stream: this.stream,
      subject: this.chunkSubject(blob.nuid),
      size: blob.size,
      chunks: blob.chunks,
      sha256: blob.sha256,
      span,
      readAhead: this.readAheadChunks,
      firstChunkTimeoutMs: this.opTimeoutMs,
      stallMs: this.readStallMs,
    });
  }
}

function toStoredBlob(tenant: string, sha256: string, info: ObjectInfo): StoredBlob {
  // The recorded digest of the stored bytes must be the address: anything else is
  // an object we did not write (or a corrupted one), never served as this blob. Fail closed.
  if (digestHex(info.digest) !== sha256) {
    throw new UnavailableError(`blob ${sha256}: stored digest does not match its address`);
  }
  return { tenant, sha256, size: info.size, chunks: info.chunks, nuid: info.nuid, revision: info.revision };
}

/** `body` as a DigestVerifier of `sha256` (the upload route's already is one: one hash per upload). */
function checked(body: Readable, sha256: string): DigestVerifier {
  if (body instanceof DigestVerifier) return body;
  const verifier = new DigestVerifier(sha256);
  pipeline(body, verifier, () => {});
  return verifier;
}

/** Base64url with its padding kept: how ADR-20 writes meta subjects and digests. */
function paddedBase64url(bytes: Buffer): string {
  return bytes.toString("base64").replaceAll("+", "-").replaceAll("/", "_");
}

/** `SHA-256=<base64url, padded>` (ADR-20) to lowercase hex. */
function digestHex(digest: string): string | undefined {
  const prefix = "SHA-256=";
  if (!digest.startsWith(prefix)) return undefined;
  return Buffer.from(digest.slice(prefix.length), "base64url").toString("hex");
}
