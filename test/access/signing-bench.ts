// What signing costs the callout: the nkeys library's pure-JS (tweetnacl) key pair against
// IssuerKey (node:crypto behind the same KeyPair shape), per signature and per callout answer
// (a user JWT inside an authorization response: two signatures). Run: npx tsx test/access/signing-bench.ts
import { IssuerKey } from "@conclave/access";
import { encodeAuthorizationResponse, encodeUser } from "@nats-io/jwt";
import { createAccount, createServer, createUser, type KeyPair } from "@nats-io/nkeys";

const account = createAccount();
const pure = account;
const native = IssuerKey.fromSeed(new TextDecoder().decode(account.getSeed()));
const server = createServer().getPublicKey();
const user = createUser().getPublicKey();
const input = new TextEncoder().encode("x".repeat(600));

async function time(label: string, n: number, op: () => unknown): Promise<void> {
  for (let i = 0; i < Math.min(20, n); i++) await op();
  const started = performance.now();
  for (let i = 0; i < n; i++) await op();
  const ms = (performance.now() - started) / n;
  console.log(`${label.padEnd(44)} ${ms.toFixed(3)} ms`);
}

const answer = async (issuer: KeyPair) => {
  const claim = { pub: { allow: ["conclave.room.r1"] }, sub: { allow: ["conclave.room.r1"] }, subs: 256 };
  const jwt = await encodeUser("bot", user, issuer, claim, { aud: "BOTS", exp: 2_000_000_000 });
  return encodeAuthorizationResponse(user, server, issuer, { jwt }, {});
};

await time("sign 600 bytes, nkeys (tweetnacl)", 200, () => pure.sign(input));
await time("sign 600 bytes, IssuerKey (node:crypto)", 2_000, () => native.sign(input));
await time("callout answer, nkeys (tweetnacl)", 100, () => answer(pure));
await time("callout answer, IssuerKey (node:crypto)", 1_000, () => answer(native));
