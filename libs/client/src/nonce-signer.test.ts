import { verify } from "node:crypto";
import { fromBase64url, generateIdentity, publicKeyObject, signPubOfUserNkey } from "@conclave/auth";
import { describe, expect, it } from "vitest";
import { botAuthenticator } from "./bot-connection.ts";
import { NonceRefusedError, nonceSigner } from "./nonce-signer.ts";

const id = generateIdentity({ name: "bot", tenant: "acme", url: "http://127.0.0.1" });
const secret = fromBase64url(id.signSecretKey) as Uint8Array;
const pub = publicKeyObject(fromBase64url(id.signPublicKey) as Uint8Array);

describe("the guarded nonce signer", () => {
  it("signs a server nonce (15 base64url characters) verifiably with the bot's key", () => {
    const nonce = "Xk3_9aQ-2Lm0ZpR";
    const sig = nonceSigner(secret)(nonce);
    expect(verify(null, Buffer.from(nonce), pub, sig)).toBe(true);
  });

  it("refuses anything a hostile server could use to get other bytes signed", () => {
    const signNonce = nonceSigner(secret);
    const hostile = [
      "",
      "short",
      "x".repeat(65),
      "conclave-msg-v1\nroom\n1\nfrom\nnonce\nct",
      '"@method": POST\n"@path": /v1/users',
      "abc.def.ghijklmn",
      "abcdefghijk lmn",
      "abcdefghijk=",
      "abcdefghijklmnö",
      '{"a":1,"b":2,"c":3}',
    ];
    for (const nonce of hostile) expect(() => signNonce(nonce), JSON.stringify(nonce)).toThrow(NonceRefusedError);
    expect(() => signNonce(42 as unknown as string)).toThrow(NonceRefusedError);
  });

  it("the authenticator presents the sign_pub as the user nkey and never signs a refused nonce", () => {
    const auth = botAuthenticator(id);
    const ok = auth("Xk3_9aQ-2Lm0ZpR") as { nkey: string; sig: string };
    expect(signPubOfUserNkey(ok.nkey)).toBe(id.signPublicKey);
    expect(verify(null, Buffer.from("Xk3_9aQ-2Lm0ZpR"), pub, Buffer.from(ok.sig, "base64url"))).toBe(true);
    expect(() => auth("GET /v1/rooms HTTP/1.1")).toThrow(NonceRefusedError);
  });
});
