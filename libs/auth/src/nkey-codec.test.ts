import { createAccount, createUser } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { toBase64url } from "./base64url.ts";
import { generateEd25519KeyPair } from "./ed25519-keys.ts";
import { publicKeyOfUserNkey, signPubOfUserNkey, userNkeyOf, userNkeyOfSignPub } from "./nkey-codec.ts";

describe("sign_pub as a NATS user nkey", () => {
  it("round-trips, and agrees with the nkeys library's own user keys", () => {
    const { publicKey } = generateEd25519KeyPair();
    const nkey = userNkeyOf(publicKey);
    expect(nkey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(signPubOfUserNkey(nkey)).toBe(toBase64url(publicKey));
    expect(userNkeyOfSignPub(toBase64url(publicKey))).toBe(nkey);
    const theirs = createUser().getPublicKey();
    expect(userNkeyOf(publicKeyOfUserNkey(theirs) as Uint8Array)).toBe(theirs);
  });

  it("refuses other key types, a bad checksum, odd spellings and junk", () => {
    const nkey = userNkeyOf(generateEd25519KeyPair().publicKey);
    const flipped = `${nkey.slice(0, 10)}${nkey[10] === "A" ? "B" : "A"}${nkey.slice(11)}`;
    for (const bad of [
      createAccount().getPublicKey(),
      flipped,
      nkey.toLowerCase(),
      `${nkey}A`,
      "",
      "U",
      "x".repeat(56),
    ]) {
      expect(publicKeyOfUserNkey(bad), bad).toBeUndefined();
    }
    expect(userNkeyOfSignPub("not-a-key")).toBeUndefined();
  });
});
