import { createHash, createSecretKey, type KeyObject } from "node:crypto";
import { privateKeyObject, publicKeyObject, rawPublicKey, toBase64url } from "@conclave/auth";
import type { GatewayConfig } from "../gateway-config.ts";

export type TokenAlg = GatewayConfig["jwt"]["alg"];

/** A public key as published in `/.well-known/jwks.json`. */
export interface PublishedJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
}

/**
 * The gateway's token keys: the one it signs with and every one it accepts.
 * EdDSA keys are named by their RFC 7638 thumbprint; an HS256 secret is never
 * published, and its kid is derived so that it says nothing about the secret.
 */
export class TokenKeys {
  readonly alg: TokenAlg;
  readonly kid: string;
  readonly signingKey: KeyObject;
  private readonly verifying: Map<string, KeyObject>;
  private readonly published: PublishedJwk[];

  private constructor(alg: TokenAlg, kid: string, signingKey: KeyObject, verifying: Map<string, KeyObject>) {
    this.alg = alg;
    this.kid = kid;
    this.signingKey = signingKey;
    this.verifying = verifying;
    this.published =
      alg === "EdDSA"
        ? [...verifying].map(([k, key]) => ({
            kty: "OKP",
            crv: "Ed25519",
            x: toBase64url(rawPublicKey(key)),
            kid: k,
            alg: "EdDSA",
            use: "sig",
          }))
        : [];
  }

  static fromConfig(jwt: Pick<GatewayConfig["jwt"], "alg" | "key" | "verifyKeys">): TokenKeys {
    if (jwt.alg === "HS256") {
      const secret = createSecretKey(Buffer.from(jwt.key));
      const kid = `hs-${createHash("sha256").update("conclave-kid\u0000").update(jwt.key).digest("base64url").slice(0, 16)}`;
      return new TokenKeys("HS256", kid, secret, new Map([[kid, secret]]));
    }
    const signingKey = privateKeyObject(jwt.key);
    const current = rawPublicKey(signingKey);
    const verifying = new Map<string, KeyObject>([[ed25519Thumbprint(current), publicKeyObject(current)]]);
    for (const extra of jwt.verifyKeys) verifying.set(ed25519Thumbprint(extra), publicKeyObject(extra));
    return new TokenKeys("EdDSA", ed25519Thumbprint(current), signingKey, verifying);
  }

  /** The key a token names by kid; no kid means the current key. */
  verificationKey(kid: string | undefined): KeyObject | undefined {
    return this.verifying.get(kid ?? this.kid);
  }

  jwks(): { keys: PublishedJwk[] } {
    return { keys: this.published };
  }
}

/** RFC 7638 thumbprint of an Ed25519 public key: SHA-256 of its canonical JWK. */
function ed25519Thumbprint(publicKey: Uint8Array): string {
  const canonical = `{"crv":"Ed25519","kty":"OKP","x":"${toBase64url(publicKey)}"}`;
  return createHash("sha256").update(canonical).digest("base64url");
}
