import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject, verify } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ed25519EncodingProblem, ed25519KeyProblem, isLowOrderX25519 } from "./weak-keys.ts";

const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const okp = (crv: "Ed25519" | "X25519", x: Uint8Array): KeyObject =>
  createPublicKey({ key: { kty: "OKP", crv, x: b64(x) }, format: "jwk" });
const withTopBit = (b: Uint8Array, set: boolean): Uint8Array => {
  const out = Uint8Array.from(b);
  out[31] = set ? (out[31] as number) | 0x80 : (out[31] as number) & 0x7f;
  return out;
};
/** y + p as 32 little-endian bytes, when it still fits under 2^255 (only for y < 19). */
const plusP = (b: Uint8Array): Uint8Array | undefined => {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(b[i] as number);
  y = (y & ((1n << 255n) - 1n)) + 2n ** 255n - 19n;
  if (y >= 2n ** 255n) return undefined;
  return Uint8Array.from({ length: 32 }, (_, i) => Number((y >> BigInt(8 * i)) & 0xffn));
};

// The eight torsion points of edwards25519, canonical encodings: libsodium's
// ge25519_has_small_order blocklist (src/libsodium/crypto_core/ed25519/ref10/ed25519_ref10.c)
// and "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko 2020), Table 6.
const SMALL_ORDER = [
  "0100000000000000000000000000000000000000000000000000000000000000", // identity (order 1)
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
  "0000000000000000000000000000000000000000000000000000000000000000", // order 4
  "0000000000000000000000000000000000000000000000000000000000000080", // order 4
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
].map(hex);

// X25519 low-order u-coordinates: libsodium's blocklist (crypto_scalarmult/curve25519/ref10/x25519_ref10.c),
// as listed on cr.yp.to/ecdh.html; the last three are p-1, p and p+1 (non-canonical 0 and 1 among them).
const LOW_ORDER_U = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map(hex);

/** R = identity, S = 0: verifies under A iff [H(R‖A‖M)]A is the identity, i.e. only when A has small order. */
const FORGED = new Uint8Array(64);
FORGED[0] = 1;

describe("weak Ed25519 keys", () => {
  it("the identity point verifies a forged signature for any message with node:crypto (why it is refused)", () => {
    const identity = okp("Ed25519", SMALL_ORDER[0] as Uint8Array);
    for (const m of ["pay bob 100", "rotate the room key", ""]) {
      expect(verify(null, Buffer.from(m), identity, FORGED)).toBe(true);
    }
  });

  it("every listed point admits a forgery for some message, so each is of small order", () => {
    for (const point of SMALL_ORDER) {
      const key = okp("Ed25519", point);
      const forged = Array.from({ length: 256 }, (_, i) => `m${i}`).some((m) =>
        verify(null, Buffer.from(m), key, FORGED),
      );
      expect([b64(point), forged]).toEqual([b64(point), true]);
    }
  });

  it("refuses every small-order point in every encoding: both sign bits and y + p", () => {
    for (const point of SMALL_ORDER) {
      const encodings: Uint8Array[] = [withTopBit(point, false), withTopBit(point, true)];
      for (const e of [...encodings]) {
        const alt = plusP(e);
        if (alt) encodings.push(alt);
      }
      for (const e of encodings) {
        expect([b64(e), ed25519KeyProblem(e)]).not.toEqual([b64(e), undefined]);
        // The per-request check (keyid) refuses them too.
        expect([b64(e), ed25519EncodingProblem(e)]).not.toEqual([b64(e), undefined]);
      }
    }
    // p and p + 1 are the non-canonical names of 0 and 1 (order 4 and the identity).
    expect(ed25519KeyProblem(hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))).toBe(
      "non_canonical",
    );
    expect(ed25519KeyProblem(hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"))).toBe(
      "non_canonical",
    );
  });

  it("refuses every y ≥ p and accepts every key node:crypto generates", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 18 }), fc.boolean(), (k, sign) => {
        const y = 2n ** 255n - 19n + BigInt(k);
        const bytes = Uint8Array.from({ length: 32 }, (_, i) => Number((y >> BigInt(8 * i)) & 0xffn));
        expect(ed25519KeyProblem(withTopBit(bytes, sign))).toBe("non_canonical");
      }),
    );
    for (let i = 0; i < 200; i++) {
      const { publicKey } = generateKeyPairSync("ed25519");
      const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
      expect(ed25519KeyProblem(raw)).toBeUndefined();
    }
  });

  it("refuses a y with no point on the curve", () => {
    // y = 2: (y² - 1)/(d y² + 1) is not a square mod p.
    expect(ed25519KeyProblem(hex("0200000000000000000000000000000000000000000000000000000000000000"))).toBe(
      "not_on_curve",
    );
  });
});

describe("weak X25519 keys", () => {
  it("every listed u makes the shared secret all zeros (OpenSSL refuses to derive it), in both top-bit forms", () => {
    const { privateKey } = generateKeyPairSync("x25519");
    for (const u of LOW_ORDER_U) {
      for (const e of [withTopBit(u, false), withTopBit(u, true)]) {
        expect(() => diffieHellman({ privateKey, publicKey: okp("X25519", e) })).toThrow();
        expect([b64(e), isLowOrderX25519(e)]).toEqual([b64(e), true]);
      }
    }
  });

  it("accepts every key node:crypto generates", () => {
    for (let i = 0; i < 200; i++) {
      const { publicKey } = generateKeyPairSync("x25519");
      expect(isLowOrderX25519(Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url"))).toBe(false);
    }
  });
});
