// The raw Object Store baselines of measure-throughput.ts, in a process of their own (spawned
// by it over IPC): the same Node, the same core (pinned with the service and NATS), the same
// connection credentials and the same warm-up as the blob service it is compared with. The
// measuring process times each operation from its side, as it times an HTTP request: it sends
// `prepare` (the bytes are made here, off the clock), then starts the clock and sends `go`.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { DEFAULT_CHUNK_BYTES, DEFAULT_WRITE_WINDOW } from "@conclave/blob";
import { loadServiceEnv, natsAuthenticator } from "@conclave/runtime";
import { OBJECT_STORES, Store } from "@conclave/store";
import { type JetStreamClient, JsHeaders, PubHeaders } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { Objm, setSha256Backend } from "@nats-io/obj";

/** What the measuring process asks for: one operation on `bytes` fresh bytes (gets read `name` back). */
export type RawOp =
  | { op: "windowPut" | "put" | "jsPut"; name: string; bytes: number; chunkBytes?: number }
  | { op: "get"; name: string; bytes: number }
  | { op: "hash"; bytes: number };
export type RawMessage = { id: number; prepare: RawOp } | { id: number; go: true };
export type RawAnswer = { id: number } | { id: number; error: string };

/**
 * The NATS operations the service's PUT does, without the service: one SHA-256 pass, the chunks
 * published DEFAULT_WRITE_WINDOW at a time with msg ids, then the meta message (create-only, rollup).
 */
async function windowPut(js: JetStreamClient, name: string, data: Buffer): Promise<void> {
  const nuid = randomUUID().replaceAll("-", "");
  const bucket = OBJECT_STORES.blobs.name;
  const digest = createHash("sha256").update(data).digest("base64").replaceAll("+", "-").replaceAll("/", "_");
  const inFlight: Promise<unknown>[] = [];
  let chunks = 0;
  for (let at = 0; at < data.length; at += DEFAULT_CHUNK_BYTES) {
    const chunk = data.subarray(at, at + DEFAULT_CHUNK_BYTES);
    const sent = js.publish(`$O.${bucket}.C.${nuid}`, chunk, { msgID: `${nuid}.${chunks++}` });
    sent.catch(() => {}); // awaited below; a failure while an earlier one is awaited is not unhandled
    inFlight.push(sent);
    if (inFlight.length >= DEFAULT_WRITE_WINDOW) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const h = headers();
  h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, "0");
  h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
  const meta = { bucket, nuid, size: data.length, chunks, name, digest: `SHA-256=${digest}`, deleted: false };
  const subject = `$O.${bucket}.M.${Buffer.from(name).toString("base64").replaceAll("+", "-").replaceAll("/", "_")}`;
  await js.publish(subject, JSON.stringify(meta), { headers: h });
}

// The store's default operation timeout, as the raw calls had in the measuring process: the
// service's (1.5 s in the bench) is for its requests, and a raw call is not retried.
const env = loadServiceEnv(process.env);
const store = await Store.connect({
  servers: env.CONCLAVE_NATS_URLS,
  name: "bench-raw",
  replicas: env.CONCLAVE_REPLICAS,
  authenticator: natsAuthenticator(env),
});
const os = await new Objm(store.conn.js).open(OBJECT_STORES.blobs.name);

async function run(req: RawOp, data: Buffer): Promise<void> {
  setSha256Backend(req.op === "jsPut" ? "js" : "native");
  switch (req.op) {
    case "windowPut":
      await windowPut(store.conn.js, req.name, data);
      break;
    case "put":
    case "jsPut":
      await os.putBlob({ name: req.name, options: { max_chunk_size: req.chunkBytes ?? DEFAULT_CHUNK_BYTES } }, data);
      break;
    case "get": {
      const res = await os.get(req.name);
      let n = 0;
      for await (const piece of res?.data ?? []) n += piece.length;
      if (n !== req.bytes) throw new Error(`short raw get: ${n} of ${req.bytes}`);
      break;
    }
    case "hash":
      createHash("sha256").update(data).digest();
      break;
  }
}

// One operation at a time, as the measuring process sends them (rounds interleave with the service's).
let prepared: { op: RawOp; data: Buffer } | undefined;
process.on("message", (msg: RawMessage) => {
  const answer = (work: () => Promise<void>) =>
    work().then(
      () => process.send?.({ id: msg.id } satisfies RawAnswer),
      (err: unknown) => process.send?.({ id: msg.id, error: String(err) } satisfies RawAnswer),
    );
  if ("prepare" in msg) {
    const { prepare: op } = msg;
    return answer(async () => {
      prepared = { op, data: randomBytes(op.op === "get" ? 0 : op.bytes) };
    });
  }
  return answer(async () => {
    if (!prepared) throw new Error("go before prepare");
    const { op, data } = prepared;
    prepared = undefined;
    await run(op, data).catch((err: unknown) => {
      throw new Error(`raw ${op.op} of ${op.bytes} bytes: ${String(err)}`);
    });
  });
});
process.on("disconnect", () => {
  void store.close().finally(() => process.exit(0));
});
process.send?.({ id: 0 } satisfies RawAnswer);
