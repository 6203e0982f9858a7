import { createHash, timingSafeEqual } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ApiError } from "@conclave/protocol";

export const DIGEST_MISMATCH = "digest_mismatch";

/**
 * A pass-through that hashes the bytes going through it (once, with
 * node:crypto) and, at the end, fails instead of ending when they do not hash
 * to the expected address. The failure happens in flush, before the readable
 * side signals its end: a consumer that commits only on a clean end (the Object
 * Store writes an object's meta message after its last chunk) never commits
 * bytes that do not match their address.
 */
export class DigestVerifier extends Transform {
  readonly #expected: Buffer;
  readonly #hash = createHash("sha256");
  #verified = false;

  constructor(expectedSha256Hex: string) {
    super();
    this.#expected = Buffer.from(expectedSha256Hex, "hex");
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.#hash.digest();
    if (!timingSafeEqual(actual, this.#expected)) {
      callback(
        new ApiError("bad_request", "the body does not hash to the blob's address", { reason: DIGEST_MISMATCH }),
      );
      return;
    }
    this.#verified = true;
    callback();
  }

  /** True once the whole body went through and matched its address. */
  get verified(): boolean {
    return this.#verified;
  }
}
