import { createAccount, createUser } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { IssuerKey } from "./issuer-key.ts";

describe("the issuer key (node:crypto behind the nkeys KeyPair shape)", () => {
  it("has the same public key as the nkeys library's pair and signatures it verifies", () => {
    const theirs = createAccount();
    const ours = IssuerKey.fromSeed(new TextDecoder().decode(theirs.getSeed()));
    expect(ours.getPublicKey()).toBe(theirs.getPublicKey());
    expect(ours.getPrivateKey()).toEqual(theirs.getPrivateKey());
    const message = new TextEncoder().encode("header.payload");
    // Ed25519 is deterministic: the same key signs the same bytes identically.
    expect(ours.sign(message)).toEqual(theirs.sign(message));
    expect(theirs.verify(message, ours.sign(message))).toBe(true);
    expect(ours.verify(message, theirs.sign(new TextEncoder().encode("other")))).toBe(false);
  });

  it("refuses a seed that is not an account's", () => {
    expect(() => IssuerKey.fromSeed(new TextDecoder().decode(createUser().getSeed()))).toThrow(/account/);
    expect(() => IssuerKey.fromSeed("SAjunk")).toThrow();
  });
});
