import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromBase64url, toBase64url } from "./base64url.ts";
import {
  decodeKeyId,
  generateEd25519KeyPair,
  privateKeyObject,
  publicKeyObject,
  rawPublicKey,
  tweetnaclSecretKey,
} from "./ed25519-keys.ts";
import { PublicKeyCache } from "./public-key-cache.ts";

describe("tweetnacl layout ↔ KeyObject", () => {
  it("a generated pair has a 64-byte secret whose second half is the public key", () => {
    const { publicKey, secretKey } = generateEd25519KeyPair();
    expect(publicKey).toHaveLength(32);
    expect(secretKey).toHaveLength(64);
    expect(secretKey.subarray(32)).toEqual(publicKey);
  });

  it("keys converted both ways sign and verify with node:crypto", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const secret = tweetnaclSecretKey(privateKey);
    const message = Buffer.from("hello");
    const signature = sign(null, message, privateKeyObject(secret));
    expect(verify(null, message, publicKeyObject(rawPublicKey(publicKey)), signature)).toBe(true);
    expect(rawPublicKey(privateKey)).toEqual(secret.subarray(32));
  });

  it("a secret key whose public half is not derived from its seed is refused", () => {
    const a = generateEd25519KeyPair();
    const b = generateEd25519KeyPair();
    const forged = new Uint8Array(64);
    forged.set(a.secretKey.subarray(0, 32), 0);
    forged.set(b.publicKey, 32);
    expect(() => privateKeyObject(forged)).toThrow(TypeError);
  });

  it("keys of the wrong length are refused", () => {
    expect(() => privateKeyObject(new Uint8Array(32))).toThrow(TypeError);
    expect(() => publicKeyObject(new Uint8Array(31))).toThrow(TypeError);
  });
});

describe("base64url and keyid", () => {
  it("encodes without padding and decodes only the canonical spelling", () => {
    const bytes = Uint8Array.from([0xfb, 0xff, 0xbf]);
    expect(toBase64url(bytes)).toBe("-_-_");
    expect(fromBase64url("-_-_")).toEqual(bytes);
    expect(fromBase64url("+/+/")).toBeUndefined();
    expect(fromBase64url("AQ==")).toBeUndefined();
    expect(fromBase64url("AR")).toBeUndefined(); // non-zero padding bits: "AQ" is the canonical spelling
    expect(fromBase64url("A")).toBeUndefined();
  });

  it("a keyid is exactly 32 bytes of canonical unpadded base64url", () => {
    const keyid = toBase64url(generateEd25519KeyPair().publicKey);
    expect(decodeKeyId(keyid)).toHaveLength(32);
    for (const bad of [
      `${keyid}=`,
      keyid.slice(0, 42),
      `${keyid}A`,
      toBase64url(new Uint8Array(33)),
      toBase64url(new Uint8Array(31)),
      `+${keyid.slice(1)}`,
      "test-key-ed25519",
      "",
    ]) {
      expect(() => decodeKeyId(bad), bad).toThrow(expect.objectContaining({ reason: "bad_keyid" }));
    }
  });
});

describe("PublicKeyCache", () => {
  const keyids = (n: number) => Array.from({ length: n }, () => toBase64url(generateEd25519KeyPair().publicKey));

  it("is bounded: inserting past capacity evicts the least recently used key", () => {
    const cache = new PublicKeyCache(3);
    const [a, b, c, d] = keyids(4) as [string, string, string, string];
    cache.get(a);
    cache.get(b);
    cache.get(c);
    cache.get(a); // a is now the most recent, b the least
    cache.get(d);
    expect(cache.size).toBe(3);
    expect(cache.has(b)).toBe(false);
    expect([a, c, d].every((k) => cache.has(k))).toBe(true);
  });

  it("never grows past its capacity under a stream of fresh keys", () => {
    const cache = new PublicKeyCache(10);
    for (const keyid of keyids(50)) cache.get(keyid);
    expect(cache.size).toBe(10);
  });

  it("returns the same KeyObject on a hit", () => {
    const cache = new PublicKeyCache();
    const [keyid] = keyids(1) as [string];
    expect(cache.get(keyid)).toBe(cache.get(keyid));
    expect(cache.capacity).toBe(10_000);
  });

  it("resolve builds a key without caching it; admit caches it", () => {
    const cache = new PublicKeyCache(2);
    const [keyid] = keyids(1) as [string];
    const first = cache.resolve(keyid);
    expect(first.cached).toBe(false);
    expect(cache.size).toBe(0);
    cache.admit(keyid, first.key);
    expect(cache.resolve(keyid)).toEqual({ key: first.key, cached: true });
  });

  it("refuses a bad keyid without caching it", () => {
    const cache = new PublicKeyCache(2);
    expect(() => cache.get("nope")).toThrow(expect.objectContaining({ reason: "bad_keyid" }));
    expect(cache.size).toBe(0);
  });

  it("a keyid naming a weak key is refused before any signature is checked: a forgery under the identity point", () => {
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const forged = new Uint8Array(64);
    forged[0] = 1; // R = identity, S = 0
    expect(verify(null, Buffer.from("any message"), publicKeyObject(identity), forged)).toBe(true);
    expect(() => decodeKeyId(toBase64url(identity))).toThrow(expect.objectContaining({ reason: "bad_keyid" }));
  });
});
