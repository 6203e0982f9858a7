import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  backoffMs,
  type ConnectionGate,
  orderedConsumer,
  toStoreError,
  UnavailableError,
  watchFirstPull,
  withDeadline,
} from "@conclave/store";
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";

/** Inclusive byte offsets, as in `Content-Range`. */
export interface ByteSpan {
  start: number;
  end: number;
}

export interface ChunkReaderOptions {
  js: JetStreamClient;
  /** Consumer creation waits out a lame-duck move; the ordered consumer itself survives reconnects. */
  gate: ConnectionGate;
  stream: string;
  /** The object's chunk subject. */
  subject: string;
  size: number;
  chunks: number;
  /** The object's address: a whole read is checked against it before its last chunk leaves. */
  sha256: string;
  span?: ByteSpan | undefined;
  readAhead: number;
  firstChunkTimeoutMs: number;
  stallMs: number;
}

// Consumers left behind by a crashed replica go away on their own after this.
const CONSUMER_INACTIVE_MS = 30_000;

/**
 * Reads an Object Store object's chunks with an ordered pull consumer that
 * pulls `readAhead` messages at a time, and only as the HTTP client drains
 * them. The library's own `get` (a push consumer feeding an unbounded web
 * stream) buffered a whole 16 MiB object for a slow reader, and `getBlob` can
 * stall after 2 MiB (nats.js issue 430); this reader holds a few chunks at most.
 */
export async function openChunkReader(o: ChunkReaderOptions): Promise<Readable> {
  if (o.size === 0) return Readable.from([]);
  // The first chunk within a third of the deadline, or a fresh consumer: an
  // ephemeral consumer lives on one server, and a server in lame-duck mode (or
  // dying) takes it along; another server serves the retry.
  const deadline = Date.now() + o.firstChunkTimeoutMs;
  const attemptMs = Math.max(FIRST_CHUNK_ATTEMPT_MIN_MS, o.firstChunkTimeoutMs / 3);
  for (;;) {
    const left = deadline - Date.now();
    try {
      const { first, feed, close } = await openFeed(o, deadline, Math.min(left, attemptMs));
      const body = Readable.from(emit(first, feed, o, close), { objectMode: false });
      // A client that goes away stops the consumer now, not at the next chunk or the stall timer.
      body.once("close", close);
      return body;
    } catch (err) {
      if (!(err instanceof UnavailableError) || deadline - Date.now() < FIRST_CHUNK_ATTEMPT_MIN_MS) throw err;
    }
  }
}

const FIRST_CHUNK_ATTEMPT_MIN_MS = 150;

/** A consumer with every chunk, its message feed, and the first chunk (or UnavailableError). */
async function openFeed(o: ChunkReaderOptions, deadline: number, firstChunkMs: number) {
  const consumer = await completeConsumer(o, deadline);
  const dispose = () => void consumer.delete().catch(() => {});
  // Heartbeats: the ordered consumer notices a lost server within seconds and resumes on another.
  const messages = await consumer
    .consume({ max_messages: o.readAhead, idle_heartbeat: 1_000, expires: 5_000 })
    .catch((err: unknown) => {
      dispose();
      throw toStoreError(err, "blob read");
    });
  // Subscribed before an I/O turn passes: a first pull answered "no responders" fails this
  // attempt at once (another consumer follows) instead of waiting out the attempt.
  const firstPull = watchFirstPull(messages);
  const feed = messages[Symbol.asyncIterator]();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    messages.stop();
    dispose();
  };
  try {
    return { first: await Promise.race([nextChunk(feed, firstChunkMs), firstPull.refused]), feed, close };
  } catch (err) {
    close();
    throw err;
  } finally {
    firstPull.stop();
  }
}
/**
 * An ordered consumer over the object's chunks, on a server that holds all of
 * them. Its info, read from its server before the first pull, counts the
 * chunks on the subject. JetStream places an R1 consumer of an R3 stream on a
 * random peer of the stream (seen here on all three), and a follower may not
 * have applied the newest chunks yet (or, after a restart, be catching up):
 * such a consumer is dropped and another one created, until the deadline. A
 * broken object (chunks purged) fails here, before any header.
 */
async function completeConsumer(o: ChunkReaderOptions, deadline: number): Promise<Consumer> {
  for (let attempt = 0; ; attempt++) {
    // Retried inside the deadline: a create whose answer is lost (the stream's leadership
    // moving) leaves at most an idle consumer, which goes away by itself.
    const retried = { gate: o.gate, retry: true };
    const consumer = await withDeadline(
      "blob read",
      Math.max(1, deadline - Date.now()),
      () => orderedConsumer(o.js, o.stream, { filter_subjects: o.subject, inactive_threshold: CONSUMER_INACTIVE_MS }),
      retried,
    );
    // The info orderedConsumer read from the consumer's server.
    const present = (await consumer.info(true)).num_pending;
    if (present === o.chunks) return consumer;
    void consumer.delete().catch(() => {});
    const pause = backoffMs(attempt, 20, 200);
    if (Date.now() + pause >= deadline) {
      throw new UnavailableError(`blob read: ${present} of ${o.chunks} chunks on the consumer's server`);
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}

async function* emit(
  first: JsMsg,
  feed: AsyncIterator<JsMsg>,
  o: ChunkReaderOptions,
  close: () => void,
): AsyncGenerator<Buffer> {
  const hash = o.span ? undefined : createHash("sha256");
  let offset = 0;
  let count = 0;
  let msg = first;
  try {
    for (;;) {
      const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
      const last = msg.info.pending === 0;
      const from = offset;
      offset += data.length;
      count++;
      if (count > o.chunks || offset > o.size || (last && (count !== o.chunks || offset !== o.size))) {
        throw new UnavailableError("blob read: the object's chunks do not add up to its size");
      }
      hash?.update(data);
      // Checked before the last chunk is sent: a client never gets a complete-looking wrong body.
      if (last && hash && hash.digest("hex") !== o.sha256) {
        throw new UnavailableError("blob read: stored bytes do not hash to their address");
      }
      if (o.span) {
        const start = Math.max(o.span.start, from);
        const end = Math.min(o.span.end + 1, offset);
        if (start < end) yield data.subarray(start - from, end - from);
        if (offset > o.span.end) return;
      } else {
        yield data;
      }
      if (last) return;
      msg = await nextChunk(feed, o.stallMs);
    }
  } finally {
    close();
  }
}

async function nextChunk(feed: AsyncIterator<JsMsg>, timeoutMs: number): Promise<JsMsg> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(`blob read: no chunk within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const next = await Promise.race([feed.next(), stalled]);
    if (next.done) throw new UnavailableError("blob read: the chunk feed ended early");
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}
