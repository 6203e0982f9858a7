import { generateEd25519KeyPair } from "@conclave/auth";
import { calculateJwkThumbprint } from "jose";
import { describe, expect, it } from "vitest";
import { TokenKeys } from "./token-keys.ts";

describe("token keys", () => {
  it("names EdDSA keys by their RFC 7638 thumbprint and publishes the current and rotated-out keys", async () => {
    const current = generateEd25519KeyPair();
    const previous = generateEd25519KeyPair();
    const keys = TokenKeys.fromConfig({ alg: "EdDSA", key: current.secretKey, verifyKeys: [previous.publicKey] });
    const published = keys.jwks().keys;
    expect(published).toHaveLength(2);
    const [first] = published;
    expect(first?.kid).toBe(keys.kid);
    expect(await calculateJwkThumbprint({ kty: "OKP", crv: "Ed25519", x: first?.x ?? "" })).toBe(keys.kid);
    expect(keys.verificationKey(published[1]?.kid)).toBeDefined();
    expect(keys.verificationKey("unknown")).toBeUndefined();
    expect(keys.verificationKey(undefined)).toBe(keys.verificationKey(keys.kid));
  });

  it("never publishes an HS256 secret, and its kid does not reveal it", () => {
    const secret = new Uint8Array(32).fill(1);
    const keys = TokenKeys.fromConfig({ alg: "HS256", key: secret, verifyKeys: [] });
    expect(keys.jwks()).toEqual({ keys: [] });
    expect(keys.kid).toMatch(/^hs-[A-Za-z0-9_-]{16}$/);
    expect(keys.kid).not.toContain(Buffer.from(secret).toString("base64url").slice(0, 8));
  });
});
