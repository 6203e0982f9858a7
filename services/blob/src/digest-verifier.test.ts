import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { isApiError } from "@conclave/protocol";
import { describe, expect, it } from "vitest";
import { DIGEST_MISMATCH, DigestVerifier } from "./digest-verifier.ts";

const hex = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Feeds `pieces` through a verifier in flowing mode: every byte it forwards is counted. */
function run(pieces: Buffer[], expected: string): Promise<{ seen: number; ended: boolean; error: unknown }> {
  const verifier = new DigestVerifier(expected);
  let seen = 0;
  return new Promise((resolve) => {
    verifier.on("data", (chunk: Buffer) => {
      seen += chunk.length;
    });
    verifier.on("end", () => resolve({ seen, ended: true, error: undefined }));
    verifier.on("error", (error) => resolve({ seen, ended: false, error }));
    Readable.from(pieces).pipe(verifier);
  });
}

describe("DigestVerifier", () => {
  const pieces = [Buffer.from("hello "), Buffer.from("blob "), Buffer.from("world")];
  const whole = Buffer.concat(pieces);

  it("passes matching bytes through and ends", async () => {
    expect(await run(pieces, hex(whole))).toEqual({ seen: whole.length, ended: true, error: undefined });
  });

  it("fails instead of ending when the bytes do not match: every byte passed, no end signalled", async () => {
    const out = await run(pieces, hex(Buffer.from("something else")));
    expect(out.seen).toBe(whole.length);
    expect(out.ended).toBe(false);
    expect(isApiError(out.error) && [out.error.status, out.error.reason]).toEqual([400, DIGEST_MISMATCH]);
  });

  it("counts and verifies the empty body", async () => {
    expect(await run([], hex(Buffer.alloc(0)))).toEqual({ seen: 0, ended: true, error: undefined });
  });
});
