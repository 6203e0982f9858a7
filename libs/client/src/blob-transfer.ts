import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";

/** What an upload needs before the first byte is sent: the address is the hash of all bytes. */
export interface PreparedBlob {
  sha256: string;
  /** RFC 9530 header value for the same bytes. */
  contentDigest: string;
  size: number;
  body(): Uint8Array | ReadableStream<Uint8Array>;
}

const digestOf = (hash: Buffer) => `sha-256=:${hash.toString("base64")}:`;

export function prepareBytes(data: Uint8Array): PreparedBlob {
  const hash = createHash("sha256").update(data).digest();
  return { sha256: hash.toString("hex"), contentDigest: digestOf(hash), size: data.byteLength, body: () => data };
}

/** Hashes a file in one streaming pass, then streams it again for the upload: constant memory. */
export async function prepareFile(path: string): Promise<PreparedBlob> {
  const hasher = createHash("sha256");
  for await (const chunk of createReadStream(path)) hasher.update(chunk as Buffer);
  const hash = hasher.digest();
  const { size } = await stat(path);
  return {
    sha256: hash.toString("hex"),
    contentDigest: digestOf(hash),
    size,
    body: () => Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>,
  };
}

/** Passes a download through while hashing it; errors at the end if the bytes are not the address. */
export function verifyingStream(sha256: string): TransformStream<Uint8Array, Uint8Array> {
  const hasher = createHash("sha256");
  return new TransformStream({
    transform(chunk, controller) {
      hasher.update(chunk);
      controller.enqueue(chunk);
    },
    flush(controller) {
      const got = hasher.digest("hex");
      if (got !== sha256) controller.error(new Error(`blob content does not match its address (${got})`));
    },
  });
}
