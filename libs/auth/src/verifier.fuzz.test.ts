import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NOW_S, signingFixture } from "../test-support/signed-request-fixture.ts";
import { verifyContentDigest } from "./content-digest.ts";
import { SignatureError } from "./signature-error.ts";
import { MAX_SIGNATURE_HEADER_LENGTH, parseSignatureHeaders } from "./signature-input.ts";
import { type ReceivedRequest, type VerifiedSignature, verifyRequest } from "./verifier.ts";

/**
 * Hostile input must end in a SignatureError — never another exception (a 500),
 * never a hang — and a mutated signature must never verify.
 */

const fx = signingFixture();
const valid = fx.signed({ body: new TextEncoder().encode("{}"), nonce: "fuzz" });
const validResult = verifyRequest(valid, fx.policy, fx.deps);
const RUNS = { numRuns: 500 };

type Outcome = { ok: VerifiedSignature } | { error: SignatureError };

function outcome(request: ReceivedRequest): Outcome {
  try {
    return { ok: verifyRequest(request, fx.policy, fx.deps) };
  } catch (error) {
    if (error instanceof SignatureError) return { error };
    throw error;
  }
}

const withSignatureHeaders = (input: string | undefined, signature: string | undefined): ReceivedRequest => ({
  ...valid,
  headers: { ...valid.headers, "signature-input": input, signature },
});

// Characters that matter to RFC 8941 parsing, to reach deeper than random unicode does.
const sfChar = fc.constantFrom(...`()";=:,@%?*-_. \t\\/+aZ09sig1created`.split(""));
const sfString = fc.string({ unit: sfChar, maxLength: 300 });
const anyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "grapheme-ascii", maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
  sfString,
);

type Edit = { at: number; kind: "insert" | "delete" | "replace"; text: string };
const edit = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom<Edit["kind"]>("insert", "delete", "replace"),
  text: fc.oneof(
    sfString.map((s) => s.slice(0, 3)),
    fc.string({ maxLength: 3 }),
  ),
});

function applyEdits(text: string, edits: readonly Edit[]): string {
  let out = text;
  for (const e of edits) {
    const at = e.at % (out.length + 1);
    if (e.kind === "insert") out = out.slice(0, at) + e.text + out.slice(at);
    else if (e.kind === "delete") out = out.slice(0, at) + out.slice(at + 1 + e.text.length);
    else out = out.slice(0, at) + e.text + out.slice(at + e.text.length);
  }
  return out;
}

describe("hostile Signature-Input / Signature headers", () => {
  it("arbitrary header strings only ever raise SignatureError", () => {
    fc.assert(
      fc.property(fc.option(anyString, { nil: undefined }), fc.option(anyString, { nil: undefined }), (input, sig) => {
        expect("error" in outcome(withSignatureHeaders(input, sig))).toBe(true);
      }),
      RUNS,
    );
  });

  it("mutations of a valid pair either fail with SignatureError or mean exactly the same signature", () => {
    const input = valid.headers["signature-input"] as string;
    const signature = valid.headers.signature as string;
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), fc.boolean(), (edits, onInput) => {
        const mutated = onInput
          ? withSignatureHeaders(applyEdits(input, edits), signature)
          : withSignatureHeaders(input, applyEdits(signature, edits));
        const result = outcome(mutated);
        // Some edits are no-ops to RFC 8941 (whitespace, 01 for 1, a padding change): same signature, same result.
        if ("ok" in result) expect(result.ok).toEqual(validResult);
      }),
      { numRuns: 2000 },
    );
  });

  it("a signature with any bit flipped never verifies", () => {
    const label = "sig1";
    const bytes = parseSignatureHeaders(
      valid.headers["signature-input"] as string,
      valid.headers.signature as string,
    ).signatures.get(label);
    if (bytes === undefined) throw new Error("fixture has no sig1");
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(64 * 8 - 1), { minLength: 1, maxLength: 8 }), (bits) => {
        const flipped = Uint8Array.from(bytes);
        for (const bit of bits) flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        const header = `${label}=:${Buffer.from(flipped).toString("base64")}:`;
        const result = outcome(withSignatureHeaders(valid.headers["signature-input"] as string, header));
        expect("error" in result && result.error.reason).toBe("bad_signature");
      }),
      RUNS,
    );
  });

  it("hostile method, target and covered field values only ever raise SignatureError", () => {
    fc.assert(
      fc.property(anyString, anyString, anyString, (method, url, digest) => {
        const request = { ...valid, method, url, headers: { ...valid.headers, "content-digest": digest } };
        expect("error" in outcome(request)).toBe(true);
        expect(() => verifyContentDigest(digest, { body: new Uint8Array() })).toThrow(SignatureError);
      }),
      RUNS,
    );
  });
});

describe("size caps bound the work", () => {
  const worstCases: Array<[string, string]> = [
    ["oversized", "a".repeat(MAX_SIGNATURE_HEADER_LENGTH + 1)],
    ["deep parentheses", `a=(${"(".repeat(MAX_SIGNATURE_HEADER_LENGTH - 4)}`],
    ["many labels", Array.from({ length: 9 }, (_, i) => `l${i}=("@method")`).join(", ")],
    ["many components", `sig1=(${Array.from({ length: 33 }, (_, i) => `"x-${i}"`).join(" ")});created=${NOW_S}`],
    ["long unterminated string", `sig1=("${"a".repeat(MAX_SIGNATURE_HEADER_LENGTH - 10)}`],
    ["many parameters", `sig1=()${";a=1".repeat(2000)}`],
  ];

  it.each(worstCases)("%s: rejected with SignatureError in well under 50 ms", (_name, header) => {
    const started = performance.now();
    const result = outcome(withSignatureHeaders(header, valid.headers.signature as string));
    expect(performance.now() - started).toBeLessThan(50);
    expect("error" in result).toBe(true);
  });
});
