import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { privateKeyObject, rawPublicKey, tweetnaclSecretKey } from "./ed25519-keys.ts";
import { PublicKeyCache } from "./public-key-cache.ts";
import { buildSignatureBase, type SignableRequest, serializeSignatureParams } from "./signature-base.ts";
import { parseSignature, parseSignatureInput } from "./signature-input.ts";
import { conclavePolicy, verifyRequest } from "./verifier.ts";

const VECTOR_URL = new URL("../../../../shared/vectors/rfc9421-b26-ed25519.json", import.meta.url);

const Vector = z.object({
  publicKeyPem: z.string(),
  privateKeyPem: z.string(),
  request: z.object({
    method: z.string(),
    targetUri: z.string(),
    headers: z.record(z.string(), z.string()),
    body: z.string(),
  }),
  label: z.string(),
  signatureInput: z.string(),
  signatureBase: z.string(),
  signature: z.string(),
});

function loadVector(): z.infer<typeof Vector> {
  const path = fileURLToPath(VECTOR_URL);
  if (!existsSync(path)) throw new Error(`RFC 9421 B.2.6 vector missing: expected it at ${path}`);
  return Vector.parse(JSON.parse(readFileSync(path, "utf8")));
}

function only<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1);
  const [item] = items;
  if (item === undefined) throw new Error("unreachable");
  return item;
}

describe("RFC 9421 B.2.6 (ed25519) vector", () => {
  const vector = loadVector();
  const request: SignableRequest = {
    method: vector.request.method,
    url: vector.request.targetUri,
    headers: vector.request.headers,
  };
  const input = only(parseSignatureInput(vector.signatureInput));
  const signature = parseSignature(vector.signature).get(vector.label);

  it("rebuilds the signature base byte for byte from the request and Signature-Input", () => {
    expect(input.label).toBe(vector.label);
    expect(buildSignatureBase(request, input.components, input.params)).toBe(vector.signatureBase);
  });

  it("serializes the same Signature-Input from typed parameters in the order given", () => {
    const params = { created: 1618884473, keyid: "test-key-ed25519" };
    expect(`${vector.label}=${serializeSignatureParams(input.components, params)}`).toBe(vector.signatureInput);
    expect(buildSignatureBase(request, input.components, params)).toBe(vector.signatureBase);
  });

  it("verifies the vector's signature with the vector's public key", () => {
    expect(signature).toBeDefined();
    const base = Buffer.from(buildSignatureBase(request, input.components, input.params), "ascii");
    expect(verify(null, base, createPublicKey(vector.publicKeyPem), signature ?? new Uint8Array())).toBe(true);
  });

  it("re-signs to the exact same bytes (Ed25519 is deterministic), also through the tweetnacl layout", () => {
    const base = Buffer.from(vector.signatureBase, "ascii");
    const pemKey = createPrivateKey(vector.privateKeyPem);
    expect(new Uint8Array(sign(null, base, pemKey))).toEqual(signature);
    const secret = tweetnaclSecretKey(pemKey);
    expect(secret.subarray(32)).toEqual(rawPublicKey(createPublicKey(vector.publicKeyPem)));
    expect(new Uint8Array(sign(null, base, privateKeyObject(secret)))).toEqual(signature);
  });

  it("is still refused by the Conclave policy, which also demands @query and a nonce", () => {
    const policy = conclavePolicy(() => 1618884473_000);
    const received = {
      ...request,
      headers: { ...vector.request.headers, "signature-input": vector.signatureInput, signature: vector.signature },
    };
    expect(() => verifyRequest(received, policy, { keyCache: new PublicKeyCache() })).toThrow(
      expect.objectContaining({ reason: "missing_component" }),
    );
  });
});

describe("derived components", () => {
  const base = (request: Partial<SignableRequest>, components: string[]): string =>
    buildSignatureBase({ method: "GET", url: "/", headers: {}, ...request }, components, {}).split("\n")[0] ?? "";

  it("@query of a request with no query is a lone ?", () => {
    expect(base({ url: "/v1/users" }, ["@query"])).toBe(`"@query": ?`);
    expect(base({ url: "/v1/users?" }, ["@query"])).toBe(`"@query": ?`);
  });

  it("@path and @query keep the raw bytes of the target, unnormalized", () => {
    expect(base({ url: "/a/../b%2Fc?x=%20&y" }, ["@path"])).toBe(`"@path": /a/../b%2Fc`);
    expect(base({ url: "/a/../b%2Fc?x=%20&y" }, ["@query"])).toBe(`"@query": ?x=%20&y`);
  });

  it("@path of an absolute URI with no path is /", () => {
    expect(base({ url: "https://Example.com?x=1" }, ["@path"])).toBe(`"@path": /`);
  });

  it("@authority is lowercased with the default port dropped, from the URI or the Host field", () => {
    expect(base({ url: "https://Example.COM:443/x" }, ["@authority"])).toBe(`"@authority": example.com`);
    expect(base({ url: "/x", headers: { host: "API.local:7420" } }, ["@authority"])).toBe(
      `"@authority": api.local:7420`,
    );
    expect(base({ url: "/x", scheme: "http", headers: { host: "api.local:80" } }, ["@authority"])).toBe(
      `"@authority": api.local`,
    );
  });

  it("@target-uri, @scheme and @request-target of an origin-form request use the known scheme and Host", () => {
    const request = { url: "/v1/x?y=1", scheme: "https", headers: { host: "api.local" } };
    expect(base(request, ["@target-uri"])).toBe(`"@target-uri": https://api.local/v1/x?y=1`);
    expect(base(request, ["@scheme"])).toBe(`"@scheme": https`);
    expect(base(request, ["@request-target"])).toBe(`"@request-target": /v1/x?y=1`);
  });

  it("@query-param: the RFC 9421 §2.2.8 examples, decoded and re-encoded", () => {
    const url = "/path?param=value&foo=bar&baz=batman&qux=";
    expect(base({ url }, ['@query-param;name="baz"'])).toBe(`"@query-param";name="baz": batman`);
    expect(base({ url }, ['@query-param;name="qux"'])).toBe(`"@query-param";name="qux": `);
    const spaced = "/parameters?var=this%20is%20a%20big%0Aand%20long%20query&bar=with+plus+whitespace";
    expect(base({ url: spaced }, ['@query-param;name="var"'])).toBe(
      `"@query-param";name="var": this%20is%20a%20big%0Aand%20long%20query`,
    );
    expect(base({ url: spaced }, ['@query-param;name="bar"'])).toBe(
      `"@query-param";name="bar": with%20plus%20whitespace`,
    );
  });

  it("a field's ;sf re-serializes a known structured field (RFC 9421 §2.1.1, with a registered field)", () => {
    const headers = { "content-digest": "sha-256=:AAAA:,    md5=:BBBB:;x=1;y=2" };
    expect(base({ headers }, ["content-digest;sf"])).toBe(`"content-digest";sf: sha-256=:AAAA:, md5=:BBBB:;x=1;y=2`);
  });

  it("a field's ;bs wraps each field line as a byte sequence (RFC 9421 §2.1.3)", () => {
    const headers = { "example-header": ["value, with, lots", "of, commas"] };
    expect(base({ headers }, ["example-header;bs"])).toBe(
      `"example-header";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:`,
    );
  });

  it("a field's ;key names one member of a dictionary field", () => {
    const headers = { "content-digest": "sha-512=:AAAA:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:" };
    expect(base({ headers }, ['content-digest;key="sha-256"'])).toBe(
      `"content-digest";key="sha-256": :X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`,
    );
  });

  it("the server's own scheme and authority, when given, stand for an origin-form target's", () => {
    const request = {
      url: "/v1/x",
      scheme: "https",
      authority: "API.example.com:443",
      headers: { host: "internal:7420" },
    };
    expect(base(request, ["@target-uri"])).toBe(`"@target-uri": https://api.example.com/v1/x`);
    expect(base(request, ["@authority"])).toBe(`"@authority": api.example.com`);
  });

  it("a field's several values are trimmed and joined with a comma and a space", () => {
    const headers = { "x-list": ["  a ", "\tb"], "x-empty": "" };
    expect(base({ headers }, ["x-list"])).toBe(`"x-list": a, b`);
    expect(base({ headers }, ["x-empty"])).toBe(`"x-empty": `);
  });
});

describe("signature base refusals", () => {
  const build = (request: Partial<SignableRequest>, components: string[]) => () =>
    buildSignatureBase({ method: "GET", url: "/", headers: {}, ...request }, components, { created: 1 });

  it.each([
    ["a covered field that is absent", {}, ["x-absent"], "missing_component"],
    ["a field named like an Object.prototype member", {}, ["constructor"], "missing_component"],
    ["@scheme with no known scheme", {}, ["@scheme"], "missing_component"],
    ["@authority with no Host", {}, ["@authority"], "missing_component"],
    [
      "a line feed in a field value (base injection)",
      { headers: { x: 'a\n"@method": GET' } },
      ["x"],
      "invalid_component_value",
    ],
    ["non-ASCII in a field value", { headers: { x: "café" } }, ["x"], "invalid_component_value"],
    ["a space in the target", { url: "/a b" }, ["@path"], "invalid_component_value"],
    ["a method that is not a token", { method: "GET /" }, ["@method"], "invalid_component_value"],
    ["a component covered twice", {}, ["@method", "@method"], "malformed_signature_input"],
    ["@signature-params as a component", {}, ["@signature-params"], "malformed_signature_input"],
    ["an uppercase field name", { headers: { Host: "x" } }, ["Host"], "malformed_signature_input"],
    ["an unknown derived component", {}, ["@fragment"], "unsupported_component"],
    ["@status, a response component", {}, ["@status"], "unsupported_component"],
    ["@query-param without a name", { url: "/?a=1" }, ["@query-param"], "malformed_signature_input"],
    ["@query-param naming an absent parameter", { url: "/?a=1" }, ['@query-param;name="b"'], "missing_component"],
    [
      "@query-param naming a repeated parameter",
      { url: "/?a=1&a=2" },
      ['@query-param;name="a"'],
      "invalid_component_value",
    ],
    ["a derived component with a parameter", {}, ["@method;req"], "unsupported_component"],
    ["a field of unknown structured type with ;sf", { headers: { x: "a=1" } }, ["x;sf"], "unsupported_component"],
    [
      "a structured field that does not parse",
      { headers: { priority: "u=" } },
      ["priority;sf"],
      "invalid_component_value",
    ],
    ["a field with two parameters", { headers: { x: "a" } }, ["x;bs;sf"], "unsupported_component"],
    ["a trailer (;tr)", { headers: { x: "a" } }, ["x;tr"], "unsupported_component"],
    ["a ;key member that is absent", { headers: { x: "a=1" } }, ['x;key="b"'], "missing_component"],
    ["a ;key of a field that is no dictionary", { headers: { x: "(" } }, ['x;key="b"'], "invalid_component_value"],
  ] as const)("%s is refused", (_name, request, components, reason) => {
    expect(build(request, [...components])).toThrow(expect.objectContaining({ reason }));
  });
});
