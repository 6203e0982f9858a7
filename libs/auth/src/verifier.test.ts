import { sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NOW_S, signingFixture } from "../test-support/signed-request-fixture.ts";
import { toBase64url } from "./base64url.ts";
import { contentDigest } from "./content-digest.ts";
import { generateEd25519KeyPair, privateKeyObject } from "./ed25519-keys.ts";
import { buildSignatureBase, serializeSignatureParams } from "./signature-base.ts";
import type { SignatureErrorReason } from "./signature-error.ts";
import { type ReceivedRequest, verifyRequest } from "./verifier.ts";

const fx = signingFixture();
const body = new TextEncoder().encode('{"mode":"e2e"}');
const verify = (request: ReceivedRequest) => verifyRequest(request, fx.policy, fx.deps);
const rejects = (request: ReceivedRequest, reason: SignatureErrorReason) =>
  expect(() => verify(request)).toThrow(expect.objectContaining({ name: "SignatureError", reason }));
const withHeader = (request: ReceivedRequest, name: string, value: string | undefined): ReceivedRequest => ({
  ...request,
  headers: { ...request.headers, [name]: value },
});
const editInput = (request: ReceivedRequest, from: string | RegExp, to: string): ReceivedRequest =>
  withHeader(request, "signature-input", (request.headers["signature-input"] as string).replace(from, to));

describe("sign → verify round trip", () => {
  it("a GET without a body verifies and reports what was signed", () => {
    const request = fx.signed({ method: "GET", url: "/v1/me/rooms", nonce: "n-1" });
    expect(verify(request)).toEqual({
      keyid: fx.keyid,
      nonce: "n-1",
      created: NOW_S,
      label: "sig1",
      coveredComponents: ["@method", "@path", "@query"],
    });
  });

  it("a POST with a body covers and checks content-digest", () => {
    const request = fx.signed({ body });
    expect(request.headers["content-digest"]).toBe(contentDigest(body));
    expect(verify(request).coveredComponents).toEqual(["@method", "@path", "@query", "content-digest"]);
  });

  it("a received target with a fragment is refused: the signer drops it, a router may read it as the query", () => {
    const signedEmpty = fx.signed({ method: "GET", url: "/v1/audit" });
    rejects({ ...signedEmpty, url: "/v1/audit#tenant=x" }, "invalid_component_value");
    rejects({ ...signedEmpty, url: "/v1/audit?#tenant=x" }, "invalid_component_value");
  });

  it("the default nonce is 128 random bits in base64url", () => {
    const a = verify(fx.signed({})).nonce;
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(verify(fx.signed({})).nonce).not.toBe(a);
  });

  it("created at exactly ±30 s is still inside the window", () => {
    expect(verify(fx.signed({ created: NOW_S - 30 })).created).toBe(NOW_S - 30);
    expect(verify(fx.signed({ created: NOW_S + 30 })).created).toBe(NOW_S + 30);
  });

  it("the first label that covers the required components is the one checked", () => {
    const weak = fx.signed({ label: "weak", components: ["@method"] });
    const strong = fx.signed({ label: "strong" });
    const both = withHeader(
      withHeader(strong, "signature-input", `${weak.headers["signature-input"]}, ${strong.headers["signature-input"]}`),
      "signature",
      `${weak.headers.signature}, ${strong.headers.signature}`,
    );
    expect(verify(both).label).toBe("strong");
  });
});

describe("signer details", () => {
  it("a full URL on the signing side verifies against the origin-form target the server sees", () => {
    const signed = fx.signed({ url: "https://api.local/v1/rooms?limit=10" });
    expect(verify({ ...signed, url: "/v1/rooms?limit=10" }).keyid).toBe(fx.keyid);
  });

  it("refuses to sign a target that could not be verified byte for byte", () => {
    expect(() => fx.signed({ url: "/v1/rooms/café" })).toThrow(
      expect.objectContaining({ reason: "invalid_component_value" }),
    );
  });

  it("refuses a secret key of the wrong length", () => {
    expect(() => fx.signed({ secretKey: new Uint8Array(32) })).toThrow(TypeError);
  });
});

describe("key cache admission", () => {
  it("admits a key only after a signature under it has verified", () => {
    const other = signingFixture();
    const forged = editInput(fx.signed({}), fx.keyid, other.keyid);
    rejects(forged, "bad_signature");
    expect(fx.deps.keyCache.has(other.keyid)).toBe(false);
    verify(fx.signed({}));
    expect(fx.deps.keyCache.has(fx.keyid)).toBe(true);
  });
});

describe("tampering with a covered part is rejected", () => {
  const signed = fx.signed({ body, nonce: "abc" });
  const other = toBase64url(generateEd25519KeyPair().publicKey);

  it.each<[string, ReceivedRequest, SignatureErrorReason]>([
    ["method", { ...signed, method: "PUT" }, "bad_signature"],
    ["path", { ...signed, url: "/v1/rooms/x?limit=10" }, "bad_signature"],
    ["query", { ...signed, url: "/v1/rooms?limit=1000" }, "bad_signature"],
    ["body", { ...signed, body: new TextEncoder().encode('{"mode":"clear"}') }, "digest_mismatch"],
    [
      "body and digest together",
      withHeader({ ...signed, body: new Uint8Array([1]) }, "content-digest", contentDigest(new Uint8Array([1]))),
      "bad_signature",
    ],
    ["created", editInput(signed, `created=${NOW_S}`, `created=${NOW_S - 1}`), "bad_signature"],
    ["nonce", editInput(signed, 'nonce="abc"', 'nonce="abd"'), "bad_signature"],
    ["keyid, to another valid key", editInput(signed, fx.keyid, other), "bad_signature"],
    ["keyid, to a non-key", editInput(signed, fx.keyid, "key-1"), "bad_keyid"],
    [
      "signature bytes",
      withHeader(signed, "signature", `sig1=:${Buffer.alloc(64).toString("base64")}:`),
      "bad_signature",
    ],
    [
      "signature length",
      withHeader(signed, "signature", `sig1=:${Buffer.alloc(63).toString("base64")}:`),
      "bad_signature",
    ],
  ])("%s", (_part, request, reason) => rejects(request, reason));

  it("@target-uri (or @request-target) stands in for @path and @query, with the server's scheme and authority", () => {
    const signed = fx.signed({ url: "https://api.local/v1/rooms?x=1", components: ["@method", "@target-uri"] });
    const asServed = { ...signed, url: "/v1/rooms?x=1", scheme: "https", authority: "api.local" };
    expect(verify(asServed).coveredComponents).toEqual(["@method", "@target-uri"]);
    rejects({ ...asServed, url: "/v1/rooms?x=2" }, "bad_signature");
    rejects({ ...asServed, authority: "other.local" }, "bad_signature");
    rejects({ ...asServed, scheme: undefined }, "missing_component");
    const byTarget = fx.signed({ url: "/v1/rooms?x=1", components: ["@method", "@request-target"] });
    expect(verify(byTarget).coveredComponents).toEqual(["@method", "@request-target"]);
  });

  it("a query added to a request signed without one is rejected", () => {
    rejects({ ...fx.signed({ url: "/v1/rooms" }), url: "/v1/rooms?admin=1" }, "bad_signature");
  });

  it("a query dropped from a signed request is rejected", () => {
    rejects({ ...fx.signed({ url: "/v1/rooms?x=1" }), url: "/v1/rooms" }, "bad_signature");
  });
});

describe("policy rejections", () => {
  it.each<[string, ReceivedRequest, SignatureErrorReason]>([
    ["no signature at all", { method: "GET", url: "/", headers: {} }, "missing_signature"],
    ["non-ASCII in Signature-Input", editInput(fx.signed({}), "sig1=", "sïg1="), "malformed_signature_input"],
    ["Signature-Input without Signature", withHeader(fx.signed({}), "signature", undefined), "malformed_signature"],
    ["a signature not covering @query", fx.signed({ components: ["@method", "@path"] }), "missing_component"],
    [
      "a signature covering @target-uri without @method",
      fx.signed({ url: "https://api.local/v1/rooms", components: ["@target-uri"] }),
      "missing_component",
    ],
    [
      "a signature covering only some query parameters",
      fx.signed({ url: "/v1/rooms?limit=1", components: ["@method", "@path", '@query-param;name="limit"'] }),
      "missing_component",
    ],
    ["created 31 s in the future", fx.signed({ created: NOW_S + 31 }), "bad_created"],
    ["created 31 s in the past", fx.signed({ created: NOW_S - 31 }), "expired"],
    [
      "created that is not an integer",
      editInput(fx.signed({}), `created=${NOW_S}`, `created=${NOW_S}.5`),
      "bad_created",
    ],
    ["created absent", editInput(fx.signed({}), `;created=${NOW_S}`, ""), "bad_created"],
    ["expires in the past", fx.signed({ expires: NOW_S - 1 }), "expired"],
    ["a nonce of 65 characters", fx.signed({ nonce: "n".repeat(65) }), "nonce_too_long"],
    ["an empty nonce", fx.signed({ nonce: "" }), "bad_nonce"],
    ["no nonce", editInput(fx.signed({ nonce: "x" }), ';nonce="x"', ""), "bad_nonce"],
    [
      "a nonce that is a token, not a string",
      editInput(fx.signed({ nonce: "x" }), 'nonce="x"', "nonce=x"),
      "bad_nonce",
    ],
    ["alg hmac-sha256", editInput(fx.signed({}), 'alg="ed25519"', 'alg="hmac-sha256"'), "bad_alg"],
    [
      "a body with no content-digest covered",
      fx.signed({ body, components: ["@method", "@path", "@query"] }),
      "missing_digest",
    ],
    [
      "a covered content-digest that is absent",
      withHeader(fx.signed({ body }), "content-digest", undefined),
      "missing_digest",
    ],
  ])("%s", (_case, request, reason) => rejects(request, reason));

  it("a nonce of exactly 64 characters is accepted", () => {
    expect(verify(fx.signed({ nonce: "n".repeat(64) })).nonce).toHaveLength(64);
  });

  it("a signature without alg is accepted (alg is optional)", () => {
    const components = ["@method", "@path", "@query"];
    const params = { created: NOW_S, nonce: "no-alg", keyid: fx.keyid };
    const request: ReceivedRequest = { method: "GET", url: "/v1/budget", headers: {} };
    const base = buildSignatureBase(request, components, params);
    const signature = sign(null, Buffer.from(base), privateKeyObject(fx.keys.secretKey)).toString("base64");
    const headers = {
      "signature-input": `a=${serializeSignatureParams(components, params)}`,
      signature: `a=:${signature}:`,
    };
    expect(verify({ ...request, headers }).nonce).toBe("no-alg");
  });

  it("created too far off is rejected on both sides when the clock moves instead", () => {
    const request = fx.signed({});
    const at = (nowMs: number) => () => verifyRequest(request, { ...fx.policy, now: () => nowMs }, fx.deps);
    expect(at(NOW_S * 1000 + 30_000)).not.toThrow();
    expect(at(NOW_S * 1000 + 30_001)).toThrow(expect.objectContaining({ reason: "expired" }));
    expect(at(NOW_S * 1000 - 30_001)).toThrow(expect.objectContaining({ reason: "bad_created" }));
  });

  it("an empty body needs no digest; a digest that is covered is checked even then", () => {
    expect(() => verify({ ...fx.signed({}), body: new Uint8Array() })).not.toThrow();
    expect(() => verify(fx.signed({ body: new Uint8Array() }))).not.toThrow();
    rejects({ ...fx.signed({ body }), body: undefined }, "digest_mismatch");
  });
});
