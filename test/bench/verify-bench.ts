import { verify } from "node:crypto";
import {
  conclavePolicy,
  fromBase64url,
  generateIdentity,
  PublicKeyCache,
  publicKeyObject,
  signRequest,
  verifyRequest,
} from "@conclave/auth";
import nacl from "tweetnacl";
import { type Figure, micro } from "./measure.ts";

/** Section 1: Ed25519 verification paths, single core, no I/O. */
export function verifyBench(): Figure[] {
  const id = generateIdentity({ name: "bench", tenant: "bench", url: "http://x" });
  const pub = fromBase64url(id.signPublicKey) as Uint8Array;
  const secret = fromBase64url(id.signSecretKey) as Uint8Array;
  const msg = new TextEncoder().encode(
    '"@method": GET\n"@path": /v1/users\n"@query": ?\n"@signature-params": ("@method" "@path" "@query");created=1',
  );
  const sig = nacl.sign.detached(msg, secret);
  const cached = publicKeyObject(pub);
  const body = new TextEncoder().encode(JSON.stringify({ member: id.signPublicKey, sealed_key: "x".repeat(64) }));
  const now = Date.now();
  const headers = signRequest({
    method: "POST",
    url: "/v1/rooms/r1/members",
    headers: { "content-type": "application/json" },
    body,
    secretKey: secret,
    keyid: id.signPublicKey,
    created: Math.floor(now / 1000),
  });
  const request = {
    method: "POST",
    url: "/v1/rooms/r1/members",
    headers: Object.fromEntries(
      Object.entries({ "content-type": "application/json", ...headers }).map(([k, v]) => [k.toLowerCase(), String(v)]),
    ),
    body,
  };
  const policy = conclavePolicy(() => now);
  const keyCache = new PublicKeyCache();
  const row = (name: string, opsPerSec: number, note: string): Figure => ({
    section: "1 verify",
    name,
    opsPerSec,
    note: `${(1e6 / opsPerSec).toFixed(1)} µs/op; ${note}`,
  });
  return [
    row(
      "node:crypto, cached KeyObject",
      micro(() => verify(null, msg, cached, sig)),
      "chosen",
    ),
    row(
      "node:crypto, KeyObject from JWK per call",
      micro(() => verify(null, msg, publicKeyObject(pub), sig)),
      "",
    ),
    row(
      "tweetnacl sign.detached.verify",
      micro(() => nacl.sign.detached.verify(msg, sig, pub), 3000),
      "kept out of the server",
    ),
    row(
      "full verifyRequest (parse, digest, base, verify)",
      micro(() => verifyRequest(request, policy, { keyCache })),
      "warm key cache",
    ),
  ];
}
