import { createHmac, createPrivateKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { fromBase64url, type KeyFile, privateKeyObject } from "@conclave/auth";
import { userCommands } from "@conclave/membership";
import { useCluster } from "@conclave/testkit";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedFetch } from "../support/signed-client.ts";
import {
  addUsers,
  bearerFetch,
  errorOf,
  type GatewayA,
  gatewayEnv,
  identity,
  openSession,
  startReplicaA,
} from "./gateway-fixture.ts";

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** Builds a compact JWS from any header and claims: the rejection paths need tokens we would never issue. */
function forge(header: Record<string, unknown>, claims: unknown, signer: (data: string) => string): string {
  const data = `${b64(header)}.${b64(claims)}`;
  return `${data}.${signer(data)}`;
}
const ed25519 = (key: KeyObject) => (data: string) => sign(null, Buffer.from(data), key).toString("base64url");
const hs256 = (secret: Uint8Array) => (data: string) => createHmac("sha256", secret).update(data).digest("base64url");

describe("gateway sessions: issuing, JWKS and the strict token policy (EdDSA)", () => {
  const cluster = useCluster({ nodes: 1 });
  const env = gatewayEnv();
  let a: GatewayA;
  const admin = identity("admin");
  const bot = identity("bot");
  const reader = identity("reader");
  const gatewayKey = privateKeyObject(fromBase64url(env.CONCLAVE_GATEWAY_JWT_KEY ?? "") as Uint8Array);
  let kid = "";

  beforeAll(async () => {
    a = await startReplicaA(cluster(), env);
    await addUsers(a, admin, [{ key: bot }, { key: reader, scopes: ["rpc:read"] }], true);
    kid = a.handles.keys.kid;
  });
  afterAll(async () => {
    await a?.host.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const good = (k: KeyFile = bot, over: Record<string, unknown> = {}) => ({
    iss: "conclave",
    sub: k.signPublicKey,
    tenant: k.tenant,
    scopes: ["rpc:call"],
    jti: "forged-jti-0123456789",
    iat: now(),
    exp: now() + 600,
    ...over,
  });
  const header = (over: Record<string, unknown> = {}) => ({ alg: "EdDSA", typ: "JWT", kid, ...over });
  const budget = (token: string) => bearerFetch(a.host.url, token, "GET", "/v1/budget");

  it("a signed request opens a session: an EdDSA JWT with sub, tenant, scopes, jti, iat, exp, and a published key", async () => {
    const session = await openSession(a.host.url, bot, { scopes: ["rpc:read"], ttl_s: 900 });
    expect(session.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const head = decodeProtectedHeader(session.token);
    expect(head).toEqual({ alg: "EdDSA", typ: "JWT", kid });
    const claims = decodeJwt(session.token);
    expect(claims).toMatchObject({
      iss: "conclave",
      sub: bot.signPublicKey,
      tenant: "acme",
      scopes: ["rpc:read"],
      jti: session.jti,
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(900);
    expect(new Date(session.expires_at).getTime()).toBe((claims.exp ?? 0) * 1000);

    const jwks = await fetch(`${a.host.url}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    const keys = ((await jwks.json()) as { keys: { kid: string; x: string; alg: string }[] }).keys;
    expect(keys).toEqual([expect.objectContaining({ kid, kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" })]);

    const ok = await budget(session.token);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ tenant: "acme" });
  });

  it("scopes are a subset of the signer's; ttl is bounded; a token cannot open a session", async () => {
    const all = await openSession(a.host.url, bot);
    expect(decodeJwt(all.token).scopes).toEqual(["rpc:call", "rpc:read"]);
    expect((decodeJwt(all.token).exp ?? 0) - (decodeJwt(all.token).iat ?? 0)).toBe(3600);

    const escalate = await signedFetch(a.host.url, reader, "POST", "/v1/sessions", { scopes: ["rpc:call"] });
    expect([escalate.status, errorOf(escalate.body).reason]).toEqual([403, "insufficient_scope"]);
    const admin_ = await signedFetch(a.host.url, bot, "POST", "/v1/sessions", { scopes: ["admin"] });
    expect(admin_.status).toBe(403);
    const tooLong = await signedFetch(a.host.url, bot, "POST", "/v1/sessions", { ttl_s: 86_401 });
    expect(tooLong.status).toBe(400);
    const unknownField = await signedFetch(a.host.url, bot, "POST", "/v1/sessions", { scopes: [], extra: 1 });
    expect(unknownField.status).toBe(400);

    const viaToken = await bearerFetch(a.host.url, all.token, "POST", "/v1/sessions", {});
    expect(viaToken.status).toBe(401);
  });

  it("gateway routes take a signed request or a bearer token, but not both at once", async () => {
    const signed = await signedFetch(a.host.url, bot, "GET", "/v1/budget");
    expect(signed.status).toBe(200);
    const session = await openSession(a.host.url, bot);
    const both = await signedFetch(a.host.url, bot, "GET", "/v1/budget", undefined, {
      tamper: (w) => {
        w.headers.authorization = `Bearer ${session.token}`;
      },
    });
    expect([both.status, errorOf(both.body).reason]).toEqual([401, "ambiguous_credentials"]);
    const none = await fetch(`${a.host.url}/v1/budget`);
    expect(none.status).toBe(401);
    const basic = await fetch(`${a.host.url}/v1/budget`, { headers: { authorization: "Basic YTpi" } });
    expect(basic.status).toBe(401);
  });

  it("a forged token that follows every rule is accepted (the control for the rejections below)", async () => {
    const res = await budget(forge(header(), good(), ed25519(gatewayKey)));
    expect(res.status).toBe(200);
  });

  it("every rule of the token policy rejects its forged token with its own reason", async () => {
    const other = generateKeyPairSync("ed25519").privateKey;
    const publicX = Buffer.from(gatewayKey.export({ format: "jwk" }).x ?? "", "base64url");
    const stranger = identity("stranger");
    const sign_ = ed25519(gatewayKey);
    const valid = forge(header(), good(), sign_);
    const [h, p] = valid.split(".");
    const cases: [string, string, string][] = [
      ["alg none", forge({ alg: "none", typ: "JWT" }, good(), () => ""), "bad_alg"],
      ["alg none, signature kept", `${b64({ alg: "none", typ: "JWT" })}.${p}.`, "bad_alg"],
      [
        "HS256 keyed with our public key (alg confusion)",
        forge(header({ alg: "HS256" }), good(), hs256(publicX)),
        "bad_alg",
      ],
      ["RS256", forge(header({ alg: "RS256" }), good(), sign_), "bad_alg"],
      ["typ missing", forge({ alg: "EdDSA", kid }, good(), sign_), "bad_typ"],
      ["typ at+jwt", forge(header({ typ: "at+jwt" }), good(), sign_), "bad_typ"],
      ["embedded jwk", forge(header({ jwk: { kty: "OKP", crv: "Ed25519", x: "AA" } }), good(), sign_), "bad_header"],
      ["crit", forge(header({ crit: ["exp"] }), good(), sign_), "bad_header"],
      ["unknown kid", forge(header({ kid: "nope" }), good(), sign_), "unknown_kid"],
      ["another key", forge(header(), good(), ed25519(other)), "bad_signature"],
      ["payload swapped", `${h}.${b64(good(bot, { scopes: ["admin"] }))}.${valid.split(".")[2]}`, "bad_signature"],
      ["no exp", forge(header(), good(bot, { exp: undefined }), sign_), "missing_exp"],
      ["exp a string", forge(header(), good(bot, { exp: String(now() + 600) }), sign_), "bad_exp"],
      ["expired", forge(header(), good(bot, { iat: now() - 700, exp: now() - 100 }), sign_), "expired"],
      ["no iat", forge(header(), good(bot, { iat: undefined }), sign_), "bad_iat"],
      ["iat not numeric", forge(header(), good(bot, { iat: "soon" }), sign_), "bad_iat"],
      ["iat 2 min ahead", forge(header(), good(bot, { iat: now() + 120, exp: now() + 600 }), sign_), "iat_in_future"],
      ["lifetime 25 h", forge(header(), good(bot, { exp: now() + 25 * 3600 }), sign_), "lifetime_too_long"],
      ["nbf ahead", forge(header(), good(bot, { nbf: now() + 300 }), sign_), "not_yet_valid"],
      ["no jti", forge(header(), good(bot, { jti: undefined }), sign_), "missing_jti"],
      ["empty jti", forge(header(), good(bot, { jti: "" }), sign_), "missing_jti"],
      ["other issuer", forge(header(), good(bot, { iss: "evil" }), sign_), "bad_issuer"],
      ["tenant ../etc", forge(header(), good(bot, { tenant: "../etc" }), sign_), "bad_tenant"],
      ["tenant missing", forge(header(), good(bot, { tenant: undefined }), sign_), "bad_tenant"],
      ["sub not a key", forge(header(), good(bot, { sub: "user-42" }), sign_), "bad_subject"],
      ["scopes not a list", forge(header(), good(bot, { scopes: "rpc:call" }), sign_), "bad_scopes"],
      ["claims not JSON", `${h}.${b64("not-json{")}.${sign_(`${h}.${b64("not-json{")}`)}`, "malformed"],
      ["header not JSON", forge({}, good(), sign_).replace(/^[^.]+/, b64("{nope")), "malformed"],
      ["two segments", `${h}.${p}`, "malformed"],
      ["JWE shape", `${h}.${p}.a.b.c`, "malformed"],
      ["unknown subject", forge(header(), good(stranger), sign_), "unknown_subject"],
      ["tenant not the user's", forge(header(), good(bot, { tenant: "other" }), sign_), "tenant_mismatch"],
    ];
    for (const [what, token, reason] of cases) {
      const res = await budget(token);
      expect([what, res.status, errorOf(res.body).code, errorOf(res.body).reason]).toEqual([
        what,
        401,
        "unauthorized",
        reason,
      ]);
      // Refusals never carry tenant rate-limit headers: the caller is not a tenant yet.
      expect(res.headers.get("x-ratelimit-limit")).toBeNull();
    }
    const garbage = await bearerFetch(a.host.url, "x y", "GET", "/v1/budget");
    expect([garbage.status, errorOf(garbage.body).reason]).toEqual([401, "malformed"]);
  });

  it("a revoked user's tokens are refused everywhere, at once", async () => {
    const leaving = identity("leaving");
    await addUsers(a, admin, [{ key: leaving }]);
    const session = await openSession(a.host.url, leaving);
    expect((await budget(session.token)).status).toBe(200);
    await userCommands(a.host.ctx).revoke(
      { signPub: admin.signPublicKey, role: "operator", tenant: admin.tenant },
      leaving.signPublicKey,
    );
    const after = await budget(session.token);
    expect([after.status, errorOf(after.body).reason]).toEqual([401, "revoked_subject"]);
  });
});

describe("gateway sessions with HS256", () => {
  const cluster = useCluster({ nodes: 1 });
  const secret = new Uint8Array(32).fill(7);
  const env = gatewayEnv({
    CONCLAVE_GATEWAY_JWT_ALG: "HS256",
    CONCLAVE_GATEWAY_JWT_KEY: Buffer.from(secret).toString("base64url"),
  });
  let a: GatewayA;
  const admin = identity("admin");
  const bot = identity("bot");

  beforeAll(async () => {
    a = await startReplicaA(cluster(), env);
    await addUsers(a, admin, [{ key: bot }], true);
  });
  afterAll(async () => {
    await a?.host.close();
  });

  it("issues HS256 tokens, publishes no key, and refuses EdDSA, none and wrong secrets", async () => {
    const session = await openSession(a.host.url, bot);
    expect(decodeProtectedHeader(session.token)).toMatchObject({ alg: "HS256", typ: "JWT" });
    expect((await bearerFetch(a.host.url, session.token, "GET", "/v1/budget")).status).toBe(200);
    const jwks = (await (await fetch(`${a.host.url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    expect(jwks.keys).toEqual([]);

    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      iss: "conclave",
      sub: bot.signPublicKey,
      tenant: "acme",
      scopes: [],
      jti: "hs-forged-0123456789",
      iat,
      exp: iat + 60,
    };
    const kid = decodeProtectedHeader(session.token).kid;
    const ed = createPrivateKey(generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }));
    const cases: [string, string, string][] = [
      ["EdDSA on an HS256 gateway", forge({ alg: "EdDSA", typ: "JWT", kid }, claims, ed25519(ed)), "bad_alg"],
      ["none", forge({ alg: "none", typ: "JWT" }, claims, () => ""), "bad_alg"],
      [
        "wrong secret",
        forge({ alg: "HS256", typ: "JWT", kid }, claims, hs256(new Uint8Array(32).fill(8))),
        "bad_signature",
      ],
      [
        "HS256 no exp",
        forge({ alg: "HS256", typ: "JWT", kid }, { ...claims, exp: undefined }, hs256(secret)),
        "missing_exp",
      ],
    ];
    for (const [what, token, reason] of cases) {
      const res = await bearerFetch(a.host.url, token, "GET", "/v1/budget");
      expect([what, res.status, errorOf(res.body).reason]).toEqual([what, 401, reason]);
    }
    const control = forge({ alg: "HS256", typ: "JWT", kid }, claims, hs256(secret));
    expect((await bearerFetch(a.host.url, control, "GET", "/v1/budget")).status).toBe(200);
  });
});
