import { createHash, webcrypto as nodeWebcrypto } from "node:crypto";
import * as hmsig from "http-message-sig";
import { createSigner, createVerifier, httpbis } from "http-message-signatures";
import { describe, expect, it } from "vitest";
import { signingFixture } from "../test-support/signed-request-fixture.ts";
import { toBase64url } from "./base64url.ts";
import { contentDigest } from "./content-digest.ts";
import { privateKeyObject, publicKeyObject } from "./ed25519-keys.ts";
import type { ReceivedRequest } from "./verifier.ts";
import { verifyRequest } from "./verifier.ts";

/**
 * Interoperability with two independent RFC 9421 implementations, both ways.
 * Both libraries take an absolute target URI, so requests are described to
 * them as https://api.local + the origin-form target our server receives.
 * Both read the wall clock, so these tests sign with the real time.
 */

const ORIGIN = "https://api.local";
const URL_PATH = "/v1/rooms?limit=10";
const REQUIRED = ["@method", "@path", "@query", "content-digest"];
const body = new TextEncoder().encode('{"mode":"clear"}');
const nowS = () => Math.floor(Date.now() / 1000);
// What a signer that addresses the whole target (not @path + @query) covers.
const BY_TARGET_URI = ["@method", "@target-uri", "@authority", "@scheme", "content-digest"];
const sha512Digest = (bytes: Uint8Array) => `sha-512=:${createHash("sha512").update(bytes).digest("base64")}:`;
/** The request as our edge hands it to the verifier: origin-form target, the scheme and authority it was reached by. */
const received = (method: string, headers: Record<string, string>, bytes?: Uint8Array): ReceivedRequest => ({
  method,
  url: URL_PATH,
  headers,
  body: bytes,
  scheme: "https",
  authority: "api.local",
});

/** Lowercased names, string values only: the shape both libraries and our verifier read. */
function plainHeaders(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (typeof value === "string") out[name.toLowerCase()] = value;
  return out;
}

async function webcryptoKeys(secretKey: Uint8Array) {
  const x = toBase64url(secretKey.subarray(32));
  const d = toBase64url(secretKey.subarray(0, 32));
  const subtle = nodeWebcrypto.subtle;
  return {
    privateKey: await subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x, d }, { name: "Ed25519" }, false, [
      "sign",
    ]),
    publicKey: await subtle.importKey("raw", secretKey.subarray(32), { name: "Ed25519" }, false, ["verify"]),
  };
}

describe("http-message-signatures@1.0.6 (dhensby)", () => {
  const fx = signingFixture(Date.now());
  const verifyOurs = (request: ReceivedRequest) => verifyRequest(request, { ...fx.policy, now: Date.now }, fx.deps);

  it("a request it signs with Ed25519 is accepted by our verifier", async () => {
    const signed = await httpbis.signMessage(
      {
        key: createSigner(privateKeyObject(fx.keys.secretKey), "ed25519", fx.keyid),
        name: "sig1",
        fields: REQUIRED,
        // Its defaults add expires=created+300; we list what Conclave asks for instead.
        params: ["created", "nonce", "keyid", "alg"],
        paramValues: { nonce: "hms-nonce" },
      },
      { method: "POST", url: `${ORIGIN}${URL_PATH}`, headers: { "content-digest": contentDigest(body) } },
    );
    const request = { method: "POST", url: URL_PATH, headers: plainHeaders(signed.headers), body };
    expect(verifyOurs(request)).toMatchObject({ keyid: fx.keyid, nonce: "hms-nonce", label: "sig1" });
    expect(() => verifyOurs({ ...request, url: "/v1/rooms?limit=11" })).toThrow(
      expect.objectContaining({ reason: "bad_signature" }),
    );
  });

  it("a request it signs over @target-uri, @authority and a query parameter, with a sha-512 digest, is accepted", async () => {
    const digest = sha512Digest(body);
    const components = [...BY_TARGET_URI, '@query-param;name="limit"'];
    const signed = await httpbis.signMessage(
      {
        key: createSigner(privateKeyObject(fx.keys.secretKey), "ed25519", fx.keyid),
        fields: components,
        params: ["created", "nonce", "keyid", "alg"],
        paramValues: { nonce: "hms-target-uri" },
      },
      { method: "POST", url: `${ORIGIN}${URL_PATH}`, headers: { "content-digest": digest } },
    );
    const request = received("POST", plainHeaders(signed.headers), body);
    expect(verifyOurs(request)).toMatchObject({ nonce: "hms-target-uri", coveredComponents: components });
    // The server's own authority and scheme are what is checked: another name, or plain http, does not verify.
    for (const other of [{ authority: "evil.example" }, { scheme: "http" }]) {
      expect(() => verifyOurs({ ...request, ...other })).toThrow(expect.objectContaining({ reason: "bad_signature" }));
    }
    expect(() => verifyOurs({ ...request, body: new Uint8Array([1]) })).toThrow(
      expect.objectContaining({ reason: "digest_mismatch" }),
    );
  });

  it("verifies a request our signer signed", async () => {
    const ours = fx.signed({ url: URL_PATH, body, created: nowS() });
    const verifier = {
      async keyLookup(params: { keyid?: string }) {
        if (params.keyid !== fx.keyid) return null;
        return {
          id: fx.keyid,
          algs: ["ed25519"],
          verify: createVerifier(publicKeyObject(fx.keys.publicKey), "ed25519"),
        };
      },
      requiredFields: REQUIRED,
      requiredParams: ["created", "nonce", "keyid"],
      tolerance: 30,
    };
    const asTheyWouldSee = (r: ReceivedRequest) => ({
      method: r.method,
      url: `${ORIGIN}${r.url}`,
      headers: plainHeaders(r.headers),
    });
    expect(await httpbis.verifyMessage(verifier, asTheyWouldSee(ours))).toBe(true);
    // It checks the signature but not the body (it has no digest support): flip the method to see it refuse.
    expect(await httpbis.verifyMessage(verifier, asTheyWouldSee({ ...ours, method: "PUT" }))).toBe(false);
  });
});

describe("http-message-sig@0.3.0 (Cloudflare web-bot-auth)", () => {
  const fx = signingFixture(Date.now());
  const verifyOurs = (request: ReceivedRequest) => verifyRequest(request, { ...fx.policy, now: Date.now }, fx.deps);

  it("a request it signs with its WebCrypto Ed25519 signer is accepted by our verifier", async () => {
    const { privateKey } = await webcryptoKeys(fx.keys.secretKey);
    const digest = contentDigest(body);
    const fields = await hmsig.createSignature(
      {
        kind: "request",
        method: "POST",
        targetUri: `${ORIGIN}${URL_PATH}`,
        fields: [{ name: "content-digest", value: digest }],
      },
      {
        label: "bot",
        components: REQUIRED,
        parameters: { created: nowS(), nonce: "cf-nonce", keyid: fx.keyid, alg: "ed25519" },
        signer: hmsig.webcrypto.signer(privateKey),
      },
    );
    const headers = { "content-digest": digest, "signature-input": fields.signatureInput, signature: fields.signature };
    const request = { method: "POST", url: URL_PATH, headers, body };
    expect(verifyOurs(request)).toMatchObject({ keyid: fx.keyid, nonce: "cf-nonce", label: "bot" });
    expect(() => verifyOurs({ ...request, body: new Uint8Array([1]) })).toThrow(
      expect.objectContaining({ reason: "digest_mismatch" }),
    );
  });

  it("a request it signs over @target-uri, @authority and @scheme, with a sha-512 digest, is accepted", async () => {
    const { privateKey } = await webcryptoKeys(fx.keys.secretKey);
    const digest = sha512Digest(body);
    const fields = await hmsig.createSignature(
      {
        kind: "request",
        method: "POST",
        targetUri: `${ORIGIN}${URL_PATH}`,
        fields: [{ name: "content-digest", value: digest }],
      },
      {
        label: "bot",
        components: BY_TARGET_URI,
        parameters: { created: nowS(), nonce: "cf-target-uri", keyid: fx.keyid, alg: "ed25519" },
        signer: hmsig.webcrypto.signer(privateKey),
      },
    );
    const headers = { "content-digest": digest, "signature-input": fields.signatureInput, signature: fields.signature };
    const request = received("POST", headers, body);
    expect(verifyOurs(request)).toMatchObject({ nonce: "cf-target-uri", coveredComponents: BY_TARGET_URI });
    expect(() => verifyOurs({ ...request, url: "/v1/rooms?limit=11" })).toThrow(
      expect.objectContaining({ reason: "bad_signature" }),
    );
  });

  it("verifies a request our signer signed over @target-uri and @authority", async () => {
    const { publicKey } = await webcryptoKeys(fx.keys.secretKey);
    const ours = fx.signed({
      url: `${ORIGIN}${URL_PATH}`,
      body,
      created: nowS(),
      components: BY_TARGET_URI,
    });
    const verified = await hmsig.verifySignature(
      {
        kind: "request",
        method: ours.method,
        targetUri: `${ORIGIN}${URL_PATH}`,
        fields: Object.entries(plainHeaders(ours.headers)).map(([name, value]) => ({ name, value })),
      },
      {
        policy: { algorithms: ["ed25519"], requiredComponents: BY_TARGET_URI, requiredParameters: ["created"] },
        resolveVerifier: () => hmsig.webcrypto.verifier(publicKey),
      },
    );
    expect(verified).toMatchObject({ label: "sig1" });
  });

  it("verifies a request our signer signed, under a strict policy", async () => {
    const { publicKey } = await webcryptoKeys(fx.keys.secretKey);
    const ours = fx.signed({ url: URL_PATH, body, created: nowS() });
    const options: hmsig.VerifySignatureOptions = {
      policy: {
        algorithms: ["ed25519"],
        requiredComponents: REQUIRED,
        requiredParameters: ["created", "nonce", "keyid"],
        maxAge: 30,
        clockSkew: 30,
      },
      resolveVerifier(candidate) {
        if (candidate.parameters.keyid !== fx.keyid) throw new Error("unknown key");
        return hmsig.webcrypto.verifier(publicKey);
      },
    };
    const describeRequest = (r: ReceivedRequest): hmsig.RequestDescriptor => ({
      kind: "request",
      method: r.method,
      targetUri: `${ORIGIN}${r.url}`,
      fields: Object.entries(plainHeaders(r.headers)).map(([name, value]) => ({ name, value })),
    });
    const verified = await hmsig.verifySignature(describeRequest(ours), options);
    expect(verified).toMatchObject({ label: "sig1", algorithm: "ed25519", parameters: { keyid: fx.keyid } });
    await expect(hmsig.verifySignature(describeRequest({ ...ours, url: "/v1/rooms" }), options)).rejects.toMatchObject({
      code: "VerificationFailed",
    });
  });
});
