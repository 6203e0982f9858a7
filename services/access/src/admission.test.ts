import { sign } from "node:crypto";
import { fromBase64url, generateIdentity, privateKeyObject, toBase64url, userNkeyOfSignPub } from "@conclave/auth";
import { createAccount, createServer, createUser } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { type AdmissionPolicy, decideAdmission, provenSignPub } from "./admission.ts";
import { type CalloutRequest, parseCalloutRequest } from "./callout-request.ts";
import { userRecordOf } from "./user-record.fixture.ts";

const bot = generateIdentity({ name: "bot", tenant: "acme", url: "http://127.0.0.1" });
const other = generateIdentity({ name: "other", tenant: "acme", url: "http://127.0.0.1" });
const NONCE = "Xk3_9aQ-2Lm0ZpR";
const signWith = (id: typeof bot, nonce: string, encoding: BufferEncoding = "base64url") =>
  sign(null, Buffer.from(nonce), privateKeyObject(fromBase64url(id.signSecretKey) as Uint8Array)).toString(encoding);

function request(overrides: Partial<CalloutRequest> = {}): CalloutRequest {
  return {
    serverId: createServer().getPublicKey(),
    serverName: "n1",
    cid: 7,
    userNkey: createUser().getPublicKey(),
    nonce: NONCE,
    clientNkey: userNkeyOfSignPub(bot.signPublicKey),
    clientSig: signWith(bot, NONCE),
    clientName: "bot",
    clientHost: "127.0.0.1",
    ...overrides,
  };
}

const user = (status: "active" | "revoked" = "active") => userRecordOf(bot, status);
const policy: AdmissionPolicy = { ttlS: 600, maxRooms: 3, limits: { subs: 64, payload: 65_536, data: 1_048_576 } };
const NOW = 1_800_000_000;

describe("the client's proof of its key", () => {
  it("a nonce signed with the presented key proves the sign_pub (raw URL or standard base64)", () => {
    expect(provenSignPub(request())).toEqual({ signPub: bot.signPublicKey });
    expect(provenSignPub(request({ clientSig: signWith(bot, NONCE, "base64") }))).toEqual({
      signPub: bot.signPublicKey,
    });
  });

  it("refuses no key, a key of another kind, another key's signature, another nonce's, and junk", () => {
    const reasons = [
      request({ clientNkey: undefined }),
      request({ clientSig: undefined }),
      request({ nonce: undefined }),
      request({ clientNkey: createAccount().getPublicKey() }),
      request({ clientNkey: "U-not-a-key" }),
      request({ clientSig: signWith(other, NONCE) }),
      request({ clientSig: signWith(bot, "another-nonce-1") }),
      request({ clientSig: "AAAA" }),
      request({ clientSig: toBase64url(new Uint8Array(64)) }),
    ].map((r) => {
      const proof = provenSignPub(r);
      return "reason" in proof ? proof.reason : "admitted";
    });
    expect(reasons).toEqual([
      "no_nkey",
      "no_nkey",
      "no_nkey",
      "bad_nkey",
      "bad_nkey",
      "bad_signature",
      "bad_signature",
      "bad_signature",
      "bad_signature",
    ]);
  });
});

describe("the admission decision", () => {
  const rooms = [
    { id: "r1", subject: "conclave.room.r1" },
    { id: "r2", subject: "conclave.room.r2.chat" },
  ];

  it("admits an active user into exactly its rooms and its own inbox, for the admission lifetime", () => {
    const decision = decideAdmission({ signPub: bot.signPublicKey, user: user(), rooms }, policy, NOW);
    if (!decision.admitted) throw new Error(`refused: ${decision.reason}`);
    const inbox = `_INBOX_${bot.signPublicKey}.>`;
    expect(decision.exp).toBe(NOW + 600);
    expect(decision.claim.pub?.allow).toEqual(["conclave.room.r1", "conclave.room.r2.chat", inbox]);
    expect(decision.claim.sub?.allow).toEqual(["conclave.room.r1", "conclave.room.r2.chat", inbox]);
    expect(decision.claim.resp).toEqual({ max: 1, ttl: 30_000_000_000 });
    expect(decision.claim).toMatchObject({ subs: 64, payload: 65_536, data: 1_048_576, bearer_token: false });
  });

  it("a user in no room still gets non-empty allow lists (an empty one would mean everything)", () => {
    const decision = decideAdmission({ signPub: bot.signPublicKey, user: user(), rooms: [] }, policy, NOW);
    if (!decision.admitted) throw new Error("refused");
    expect(decision.claim.pub?.allow).toEqual([`_INBOX_${bot.signPublicKey}.>`]);
    expect(decision.claim.sub?.allow).toEqual([`_INBOX_${bot.signPublicKey}.>`]);
  });

  it("leaves out a subject that is not a room's (a corrupted read model must not grant '>')", () => {
    const bad = [">", "conclave.ev.>", "conclave.room.*", "$JS.API.>", "conclave.room.r1 x"].map((subject, i) => ({
      id: `x${i}`,
      subject,
    }));
    const decision = decideAdmission(
      { signPub: bot.signPublicKey, user: user(), rooms: bad.slice(0, 3) },
      { ...policy, maxRooms: 10 },
      NOW,
    );
    if (!decision.admitted) throw new Error("refused");
    expect(decision.claim.sub?.allow).toEqual([`_INBOX_${bot.signPublicKey}.>`]);
  });

  it("refuses an unknown user, a revoked one, a record of another key, and one in too many rooms", () => {
    const outcome = (facts: Parameters<typeof decideAdmission>[0]) => {
      const d = decideAdmission(facts, policy, NOW);
      return d.admitted ? "admitted" : d.reason;
    };
    expect(outcome({ signPub: bot.signPublicKey, user: undefined, rooms: [] })).toBe("unknown_user");
    expect(outcome({ signPub: bot.signPublicKey, user: user("revoked"), rooms })).toBe("revoked");
    expect(outcome({ signPub: other.signPublicKey, user: user(), rooms })).toBe("unknown_user");
    const many = Array.from({ length: 4 }, (_, i) => ({ id: `r${i}`, subject: `conclave.room.r${i}` }));
    expect(outcome({ signPub: bot.signPublicKey, user: user(), rooms: many })).toBe("too_many_rooms");
  });
});

describe("the server's callout request", () => {
  const server = createServer();
  const jwt = (claims: object, signer = server) => {
    const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" })).toString("base64url");
    const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
    const sig = Buffer.from(signer.sign(new TextEncoder().encode(`${header}.${payload}`))).toString("base64url");
    return new TextEncoder().encode(`${header}.${payload}.${sig}`);
  };
  const claims = {
    iss: server.getPublicKey(),
    nats: {
      type: "authorization_request",
      server_id: { id: server.getPublicKey(), name: "n1" },
      user_nkey: createUser().getPublicKey(),
      client_info: { id: 42, host: "127.0.0.1", nonce: NONCE },
      connect_opts: { nkey: userNkeyOfSignPub(bot.signPublicKey), sig: "s", protocol: 1 },
    },
  };

  it("reads a request the server signed", () => {
    expect(parseCalloutRequest(jwt(claims))).toMatchObject({ serverId: server.getPublicKey(), cid: 42, nonce: NONCE });
  });

  it("ignores one signed by another key, one about another server, and junk", () => {
    expect(parseCalloutRequest(jwt(claims, createServer()))).toBeUndefined();
    const foreign = { ...claims, nats: { ...claims.nats, server_id: { id: createServer().getPublicKey() } } };
    expect(parseCalloutRequest(jwt(foreign))).toBeUndefined();
    expect(parseCalloutRequest(jwt({ ...claims, nats: { ...claims.nats, type: "user" } }))).toBeUndefined();
    // Without the connection's id it could not be registered, so not closed on a draining server.
    const anonymous = { ...claims, nats: { ...claims.nats, client_info: { host: "127.0.0.1", nonce: NONCE } } };
    expect(parseCalloutRequest(jwt(anonymous))).toBeUndefined();
    expect(parseCalloutRequest(new TextEncoder().encode("a.b.c"))).toBeUndefined();
    expect(parseCalloutRequest(new TextEncoder().encode("not a jwt"))).toBeUndefined();
  });
});
