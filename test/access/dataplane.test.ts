import { createAccessModule, loadAccessConfig } from "@conclave/access";
import { fromBase64url, type Principal, toBase64url, userNkeyOfSignPub } from "@conclave/auth";
import { connectAsBot, nonceSigner } from "@conclave/client";
import { membershipModule, roomCommands, userCommands } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost, toPrincipal } from "@conclave/runtime";
import { eventually, type NatsCluster, useCluster } from "@conclave/testkit";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";
import { type BotConnection, connectBot, connectOutcome, publishRefused, subscribeRefused } from "./bot-probe.ts";
import { calloutEnv, startDataplaneMembership } from "./dataplane-hosts.ts";

// Bots on NATS as themselves (SPEC §10), against a real nats-server with the data-plane accounts:
// a membership host and two callout replicas (A in-process, B an OS process) on the services account.

describe("the auth callout admits bots into their rooms and nothing else", () => {
  const nats = useCluster();
  let membership: Host;
  let calloutA: Host;
  let calloutB: ServiceProcess;
  const admin = identity("admin");
  const [alice, bob, carol, mallory] = ["alice", "bob", "carol", "mallory"].map((n) => identity(n));
  const eve = identity("eve", "other");
  // Room subjects derive from (tenant, id): services/membership/src/rooms/room-identity.ts.
  const R1 = `conclave.room.${admin.tenant}.r1`;
  const R9 = `conclave.room.${eve.tenant}.r9`;
  if (!alice || !bob || !carol || !mallory) throw new Error("identities");
  let a: BotConnection;
  let b: BotConnection;

  const principal = async (signPub: string): Promise<Principal> => {
    const user = await userCommands(membership.ctx).get(signPub);
    if (!user) throw new Error("no such user");
    return toPrincipal(user);
  };
  const decisions = async (url: string, outcome: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`conclave_access_decisions_total{outcome="${outcome}"}`));
    return Number(line?.split(" ")[1] ?? 0);
  };

  beforeAll(async () => {
    const n = nats();
    membership = await startDataplaneMembership(n);
    const accessEnv = calloutEnv(n);
    calloutA = await startHost({
      env: loadServiceEnv(accessEnv),
      modules: [createAccessModule({ config: loadAccessConfig(accessEnv) })],
    });
    calloutB = await spawnService("services/access/src/main.ts", { ...accessEnv, CONCLAVE_LOG_LEVEL: "info" });
    await register(membership, admin, [alice, bob, carol, eve], true);
    await userCommands(membership.ctx).revoke(
      { signPub: admin.signPublicKey, role: "operator", tenant: admin.tenant },
      carol.signPublicKey,
    );
    const rooms = roomCommands(membership.ctx);
    await rooms.create(await principal(alice.signPublicKey), { id: "r1", mode: "clear", subject: R1 });
    await rooms.invite(await principal(alice.signPublicKey), "r1", { member: bob.signPublicKey, role: "member" });
    await rooms.create(await principal(eve.signPublicKey), { id: "r9", mode: "clear", subject: R9 });
    a = await connectBot(alice, n.urls);
    b = await connectBot(bob, n.urls);
  });
  afterAll(async () => {
    await a?.nc.close();
    await b?.nc.close();
    await calloutB?.stop();
    await calloutA?.close();
    await membership?.close();
  });

  it("an anonymous client is refused", async () => {
    await expect(connect({ servers: nats().urls, maxReconnectAttempts: 0 })).rejects.toThrow(/authoriz/i);
  });

  it("an unregistered key and a revoked user are refused, by an answer of the callout", async () => {
    const refusals = async () => {
      let sum = 0;
      for (const url of [calloutA.url, calloutB.url]) {
        for (const outcome of ["unknown_user", "revoked"]) sum += await decisions(url, outcome);
      }
      return sum;
    };
    const before = await refusals();
    expect(await connectOutcome(mallory, nats().urls)).toMatch(/authoriz/i);
    expect(await connectOutcome(carol, nats().urls)).toMatch(/authoriz/i);
    // Counted as decisions: the callout answered with an error, the server did not just time out.
    expect((await refusals()) - before).toBe(2);
  });

  it("a client presenting a member's key without its signature of the nonce is refused", async () => {
    const nkey = userNkeyOfSignPub(alice.signPublicKey) as string;
    const malloryKey = nonceSigner(fromBase64url(mallory.signSecretKey) as Uint8Array);
    const signatures = [
      (nonce: string) => toBase64url(malloryKey(nonce)),
      () => toBase64url(new Uint8Array(64)),
      () => "",
    ];
    for (const sig of signatures) {
      await expect(
        connect({
          servers: nats().urls,
          maxReconnectAttempts: 0,
          authenticator: (nonce?: string) => ({ nkey, sig: sig(nonce ?? "") }),
        }),
      ).rejects.toThrow(/authoriz/i);
    }
  });

  it("members publish and subscribe on their room's subject", async () => {
    const received: string[] = [];
    const sub = b.nc.subscribe(R1, { callback: (_e, m) => void received.push(m.string()) });
    await b.nc.flush();
    a.nc.publish(R1, "hello bob");
    await eventually(async () => expect(received).toEqual(["hello bob"]), 5_000, 20);
    sub.unsubscribe();
    expect(a.violations).toEqual([]);
    expect(b.violations).toEqual([]);
  });

  it("request/reply on a room works through the requester's own inbox", async () => {
    const sub = b.nc.subscribe(R1, { callback: (_e, m) => void (m.reply && m.respond("pong")) });
    await b.nc.flush();
    const reply = await a.nc.request(R1, "ping", { timeout: 5_000 });
    expect(reply.string()).toBe("pong");
    expect(reply.subject.startsWith(`_INBOX_${alice.signPublicKey}.`)).toBe(true);
    sub.unsubscribe();
  });

  it("the next connection follows membership: a removed member loses the room, an added one gains it", async () => {
    const dave = identity("dave");
    await register(membership, admin, [dave]);
    const rooms = roomCommands(membership.ctx);
    const owner = await principal(alice.signPublicKey);
    const probe = async () => {
      const bot = await connectBot(dave, nats().urls);
      try {
        return await subscribeRefused(bot, R1);
      } finally {
        await bot.nc.close();
      }
    };
    expect(await probe()).toBe(true);
    await rooms.invite(owner, "r1", { member: dave.signPublicKey, role: "member" });
    expect(await probe()).toBe(false);
    // The reverse index keeps a delete marker under the removed key: the room snapshot decides.
    await rooms.remove(owner, "r1", dave.signPublicKey);
    expect(await probe()).toBe(true);
  });

  it("every other subject is refused: JetStream, KV, Object Store, event log, audit, RPC, other rooms, inboxes, >", async () => {
    const forbidden = [
      "$JS.API.>",
      "$JS.API.STREAM.LIST",
      "$KV.>",
      "$KV.conclave_users.x",
      "$O.>",
      "$SYS.>",
      "conclave.ev.>",
      "conclave.ev.user.x",
      "conclave.audit.>",
      "conclave.rpc.>",
      R9,
      "conclave.room.>",
      `${R1}.>`,
      "conclave.>",
      ">",
      `_INBOX_${bob.signPublicKey}.>`,
      `_INBOX_${bob.signPublicKey}.abc`,
      "_INBOX.>",
    ];
    const subs = [];
    const pubs = [];
    for (const subject of forbidden) {
      subs.push([subject, await subscribeRefused(a, subject)]);
      if (!/[*>]/.test(subject)) pubs.push([subject, await publishRefused(a, subject)]);
    }
    expect(subs.filter(([, refused]) => !refused)).toEqual([]);
    expect(pubs.filter(([, refused]) => !refused)).toEqual([]);
    // The bot's own room still works after all that.
    expect(await subscribeRefused(a, R1)).toBe(false);
  });

  it("1,000 bots reconnecting at once are all admitted", async () => {
    const bots = Array.from({ length: 1_000 }, (_, i) => identity(`bot${i}`));
    const chunks = Array.from({ length: 20 }, (_, i) => bots.slice(i * 50, i * 50 + 50));
    await Promise.all(chunks.map((chunk) => register(membership, admin, chunk)));
    const busyBefore = (await decisions(calloutA.url, "overloaded")) + (await decisions(calloutB.url, "overloaded"));
    const started = performance.now();
    // As after a server restart: every bot at once, each retrying (the SDK's reconnect policy)
    // when the callout answers "busy" rather than letting the storm time everyone out.
    const connections = await Promise.all(
      bots.map((bot) => connectAsBot(bot, { servers: nats().urls, timeout: 20_000, waitOnFirstConnect: true })),
    );
    const ms = performance.now() - started;
    const busy = (await decisions(calloutA.url, "overloaded")) + (await decisions(calloutB.url, "overloaded"));
    console.log(
      `1,000 bots at once: all admitted in ${ms.toFixed(0)} ms (${(1_000 / (ms / 1000)).toFixed(0)} admissions/s, ` +
        `${busy - busyBefore} "busy" answers retried)`,
    );
    await Promise.all(connections.map((nc) => nc.close()));
    expect(connections).toHaveLength(1_000);
  });

  it("a callout replica killed under load: bots keep connecting through the other", async () => {
    const n = nats();
    const outcomes: string[] = [];
    let killed = false;
    const load = (async () => {
      for (let wave = 0; wave < 12; wave++) {
        if (wave === 4) {
          calloutB.child.kill("SIGKILL");
          killed = true;
        }
        const wave_ = await Promise.all(Array.from({ length: 10 }, () => connectOutcome(alice, n.urls)));
        outcomes.push(...wave_.map((o) => `${killed ? "after" : "before"}:${o}`));
      }
    })();
    await load;
    const after = outcomes.filter((o) => o.startsWith("after"));
    // A callout in flight on the killed replica is lost (the server refuses that client at its timeout);
    // every connect that started after the kill is admitted through replica A.
    expect(after.slice(10).filter((o) => o !== "after:admitted")).toEqual([]);
    expect(outcomes.filter((o) => o === "before:admitted")).toHaveLength(40);
  });

  it("with every callout replica down, new connects are refused and connected bots carry on", async () => {
    await calloutA.close();
    expect(await connectOutcome(alice, nats().urls)).toMatch(/authoriz|timeout/i);
    const received: string[] = [];
    const sub = b.nc.subscribe(R1, { callback: (_e, m) => void received.push(m.string()) });
    await b.nc.flush();
    a.nc.publish(R1, "still here");
    await eventually(async () => expect(received).toEqual(["still here"]), 5_000, 20);
    sub.unsubscribe();
  });
});
