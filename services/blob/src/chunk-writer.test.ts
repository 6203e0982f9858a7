import { UnavailableError } from "@conclave/store";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { type ChunkWriterOptions, writeChunks } from "./chunk-writer.ts";

// The window's bookkeeping against a scripted stream (ordering, resend, dedupe by msg id).
// Real JetStream, leadership moves included, is exercised by test/blob/blob-lame-duck.test.ts.

interface Landed {
  id: string;
  bytes: number;
}

/** A stream that stores by msg id (a duplicate answers the first copy's sequence), with scripted failures. */
function scriptedStream(fail: (id: string, attempt: number) => "lost" | "landed-unanswered" | undefined) {
  const landed: Landed[] = [];
  const attempts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const publish = async (_subject: string, payload: Uint8Array, opts: { msgID: string }): Promise<PubAck> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 1));
    inFlight--;
    const attempt = (attempts.get(opts.msgID) ?? 0) + 1;
    attempts.set(opts.msgID, attempt);
    const outcome = fail(opts.msgID, attempt);
    if (outcome === "lost") throw new Error("timeout");
    let seq = landed.findIndex((l) => l.id === opts.msgID) + 1;
    if (seq === 0) seq = landed.push({ id: opts.msgID, bytes: payload.length });
    if (outcome === "landed-unanswered") throw new Error("timeout");
    return { seq, duplicate: false, stream: "s" } as PubAck;
  };
  const js = { publish } as unknown as JetStreamClient;
  // As retryingJetStream: the same msg id, again, until an answer.
  const retried = async (subject: string, payload: Uint8Array, opts: { msgID: string }): Promise<PubAck> => {
    for (let i = 0; ; i++) {
      try {
        return await publish(subject, payload, opts);
      } catch (err) {
        if (i === 3) throw err;
      }
    }
  };
  const retrying = { publish: retried } as unknown as JetStreamClient;
  return { js, retrying, landed, maxInFlight: () => maxInFlight, inFlight: () => inFlight };
}

const options = (
  { js, retrying }: { js: JetStreamClient; retrying: JetStreamClient },
  window = 3,
): ChunkWriterOptions => ({
  js,
  retrying,
  subject: "$O.b.C.n",
  idPrefix: "n",
  chunkBytes: 10,
  window,
  timeoutMs: 1_000,
});

async function* pieces(total: number, piece = 7): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < total; at += piece) yield new Uint8Array(Math.min(piece, total - at));
}

describe("writeChunks", () => {
  it("cuts the source into chunks and keeps at most the window in flight", async () => {
    const s = scriptedStream(() => undefined);
    expect(await writeChunks(pieces(95), options(s, 3))).toEqual({ size: 95, chunks: 10 });
    expect(s.landed.map((l) => l.id)).toEqual(Array.from({ length: 10 }, (_, i) => `n.${i}`));
    expect(s.landed.at(-1)?.bytes).toBe(5);
    expect(s.maxInFlight()).toBe(3);
  });

  it("resends from a lost chunk on, in order, under the same msg ids: nothing stored twice", async () => {
    const s = scriptedStream((id, attempt) =>
      id === "n.3" && attempt === 1 ? "lost" : id === "n.4" && attempt === 1 ? "landed-unanswered" : undefined,
    );
    // n.4 landed before n.3's resend would be out of order: here n.4's first copy came after n.3 was lost,
    // so this must fail closed instead of committing a scrambled object.
    await expect(writeChunks(pieces(80), options(s, 3))).rejects.toBeInstanceOf(UnavailableError);
  });

  it("chunks lost from one on (a leadership move) are resent in order and the write succeeds", async () => {
    const s = scriptedStream((id, attempt) => (Number(id.slice(2)) >= 3 && attempt === 1 ? "lost" : undefined));
    expect(await writeChunks(pieces(80), options(s, 3))).toEqual({ size: 80, chunks: 8 });
    expect(s.landed.map((l) => l.id)).toEqual(Array.from({ length: 8 }, (_, i) => `n.${i}`));
  });

  it("an answer lost for a chunk that landed is deduplicated on resend", async () => {
    const s = scriptedStream((id, attempt) => (id === "n.7" && attempt === 1 ? "landed-unanswered" : undefined));
    expect(await writeChunks(pieces(80), options(s, 3))).toEqual({ size: 80, chunks: 8 });
    expect(s.landed).toHaveLength(8);
  });

  it("throws the source's own error", async () => {
    const s = scriptedStream(() => undefined);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(25);
      throw new Error("client went away");
    }
    await expect(writeChunks(failing(), options(s))).rejects.toThrow("client went away");
    // Its publishes settled first: none lands after the caller's purge.
    expect(s.inFlight()).toBe(0);
    expect(s.landed).toHaveLength(2);
  });
});
