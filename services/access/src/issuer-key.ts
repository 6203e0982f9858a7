import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { rawPublicKey } from "@conclave/auth";
import { type KeyPair, Prefix } from "@nats-io/nkeys";
import { Codec } from "@nats-io/nkeys/lib/codec.js";

// PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const text = new TextDecoder();

/**
 * The callout's account key in the KeyPair shape @nats-io/jwt signs with, but
 * signing with node:crypto: the library's own pairs sign with pure-JS
 * tweetnacl, about 10 ms a signature here (two per callout, 53 ms a callout),
 * against well under a millisecond natively (bench: test/access/signing-bench.ts).
 */
export class IssuerKey implements KeyPair {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly seed: Uint8Array;
  readonly publicNkey: string;

  private constructor(seed: Uint8Array, raw: Uint8Array) {
    this.seed = seed;
    this.privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw]), format: "der", type: "pkcs8" });
    this.publicKey = createPublicKey(this.privateKey);
    this.publicNkey = text.decode(Codec.encode(Prefix.Account, rawPublicKey(this.publicKey)));
  }

  /** From an account seed ("SA…"); anything else throws. */
  static fromSeed(seed: string): IssuerKey {
    const bytes = new TextEncoder().encode(seed);
    const { prefix, buf } = Codec.decodeSeed(bytes);
    if (prefix !== Prefix.Account) throw new TypeError("the issuer must be an account nkey seed (SA…)");
    return new IssuerKey(bytes, buf);
  }

  getPublicKey(): string {
    return this.publicNkey;
  }

  /** The encoded private key, as nkeys returns it (the jwt library only checks that it exists). */
  getPrivateKey(): Uint8Array {
    const raw = Codec.decodeSeed(this.seed).buf;
    const secret = new Uint8Array(64);
    secret.set(raw, 0);
    secret.set(rawPublicKey(this.publicKey), 32);
    return Codec.encode(Prefix.Private, secret);
  }

  getSeed(): Uint8Array {
    return this.seed;
  }

  sign(input: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, input, this.privateKey));
  }

  verify(input: Uint8Array, sig: Uint8Array): boolean {
    return verify(null, input, this.publicKey, sig);
  }

  clear(): void {
    // KeyObjects cannot be wiped; the process holds the key for its lifetime.
  }

  seal(): Uint8Array {
    throw new Error("an account key cannot seal");
  }

  open(): Uint8Array | null {
    throw new Error("an account key cannot open");
  }
}
