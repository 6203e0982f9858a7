import { generateIdentity, type KeyFile, toBase64url } from "@conclave/auth";
import {
  BotLink,
  ConclaveClient,
  createE2ERoom,
  encryptMessage,
  inviteToE2ERoom,
  newRoomKey,
  RoomChannel,
  type RoomEnvelope,
  type RoomMessage,
  RoomRemovedError,
} from "@conclave/client";
import type { Host } from "@conclave/runtime";
import { eventually, type NatsCluster, useCluster } from "@conclave/testkit";
import { AuthorizationError } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { startDataplaneCallout, startDataplaneMembership } from "./dataplane-hosts.ts";

// The SDK's room channels on the data plane (SPEC §10, docs/dataplane.md "The SDK"): each bot on NATS
// with its own key through the auth callout, envelopes screened for replays and junk.

/** Fast reconnects: the test's admissions expire every few seconds. */
const CONNECT = { reconnectTimeWait: 200, timeout: 10_000 };

interface World {
  nats: NatsCluster;
  membership: Host;
  callout: Host | undefined;
  admin: KeyFile;
  client(k: KeyFile): ConclaveClient;
}

function useWorld(nats: () => NatsCluster, ttlS?: number): () => World {
  let world: World | undefined;
  beforeAll(async () => {
    const n = nats();
    const membership = await startDataplaneMembership(n);
    const callout = await startDataplaneCallout(n, ttlS ? { ttlS } : {});
    const admin = identity("admin");
    await register(membership, admin, [], true);
    world = {
      nats: n,
      membership,
      callout,
      admin,
      client: (k) => new ConclaveClient({ url: membership.url, identity: k }),
    };
  });
  afterAll(async () => {
    await world?.callout?.close();
    await world?.membership.close();
  });
  return () => {
    if (!world) throw new Error("the world is not started");
    return world;
  };
}

/** An e2e room owned by the first bot, every other bot invited, and a channel per bot. */
async function roomOf(w: World, bots: KeyFile[], id: string) {
  await register(w.membership, w.admin, bots);
  const [owner, ...others] = bots.map((b) => w.client(b));
  if (!owner) throw new Error("no owner");
  const { room } = await createE2ERoom(owner, { id });
  for (const o of others)
    await inviteToE2ERoom(owner, id, { signPub: o.identity.signPublicKey, kexPub: o.identity.kexPublicKey });
  const channels = await Promise.all(
    [owner, ...others].map((c) => RoomChannel.join(c, id, { servers: w.nats.urls, options: CONNECT })),
  );
  return { room, owner, channels };
}

/** What a subscribed channel received and dropped. */
async function listen(channel: RoomChannel) {
  const got: RoomMessage[] = [];
  const dropped: string[] = [];
  await channel.subscribe(
    (m) => got.push(m),
    (why) => dropped.push(why),
  );
  return { got, dropped, texts: () => got.map((m) => m.text()) };
}

describe("room channels: bots on their own keys, replays and junk dropped", () => {
  const nats = useCluster();
  const world = useWorld(nats);
  const [alice, bob, eve] = ["alice", "bob", "eve"].map((n) => identity(n));
  if (!alice || !bob || !eve) throw new Error("identities");
  let ch: RoomChannel[];
  let subject: string;
  // eve is a member with a plain connection of her own: she can publish anything on the room's subject.
  let eveLink: BotLink;

  beforeAll(async () => {
    const r = await roomOf(world(), [alice, bob, eve], "r1");
    ch = r.channels;
    subject = r.room.subject;
    eveLink = await BotLink.open(eve, { servers: nats().urls, ...CONNECT });
  });
  afterAll(async () => {
    await eveLink?.close();
    await Promise.all((ch ?? []).map((c) => c.close()));
  });

  it("two bots exchange messages, each connected with its own key", async () => {
    const [a, b] = ch;
    if (!a || !b) throw new Error("channels");
    const atA = await listen(a);
    const atB = await listen(b);
    await a.publish("hello bob");
    await b.publish("hello alice");
    await eventually(async () => expect(atB.texts()).toContain("hello bob"), 10_000, 20);
    await eventually(async () => expect(atA.texts()).toContain("hello alice"), 10_000, 20);
    expect(atB.got.find((m) => m.text() === "hello bob")?.from).toBe(alice.signPublicKey);
    // Each connection is its bot's: the callout gave it its own inbox (and only that one).
    expect(a.link.nc.info?.server_id).toBeDefined();
    expect(a.link.identity.signPublicKey).toBe(alice.signPublicKey);
    expect([...atA.dropped, ...atB.dropped]).toEqual([]);
  });

  it("a channel refuses another bot's link: it speaks with its own member's key", async () => {
    await expect(RoomChannel.join(world().client(alice), "r1", { link: eveLink })).rejects.toThrow(/another bot/);
  });

  it("a duplicated or replayed envelope is dropped; a renumbered one fails its signature", async () => {
    const [a, b] = ch;
    if (!a || !b) throw new Error("channels");
    const atB = await listen(b);
    const captured: RoomEnvelope[] = [];
    const spy = eveLink.nc.subscribe(subject, { callback: (_e, m) => void captured.push(m.json<RoomEnvelope>()) });
    await eveLink.nc.flush();
    await a.publish("only once");
    await eventually(async () => expect(captured).toHaveLength(1), 10_000, 20);
    spy.unsubscribe();
    const original = captured[0] as RoomEnvelope;
    for (const copy of [original, original, { ...original, seq: original.seq + 1 }])
      eveLink.nc.publish(subject, JSON.stringify(copy));
    await eveLink.nc.flush();
    await eventually(async () => expect(atB.dropped).toHaveLength(3), 10_000, 20);
    expect(atB.texts()).toEqual(["only once"]);
    expect(atB.dropped).toEqual(["duplicate envelope", "duplicate envelope", "message signature does not verify"]);
  });

  it("a flood of junk envelopes costs the membership service at most one refresh per interval", async () => {
    const [a, b] = ch;
    if (!a || !b) throw new Error("channels");
    const atB = await listen(b);
    const before = b.refreshes;
    const signed = (who: KeyFile, epoch: number, seq: number) =>
      encryptMessage(new TextEncoder().encode("junk"), {
        room: "r1",
        epoch,
        seq,
        ts: Date.now(),
        roomKey: newRoomKey(),
        signPub: who.signPublicKey,
        signSecretKey: who.signSecretKey,
      });
    const strangers = Array.from({ length: 20 }, () =>
      generateIdentity({ name: "x", tenant: "acme", url: "http://x" }),
    );
    // Per wave: bad signatures, eve's own signature at an epoch that does not exist, unknown senders.
    const wave = (w: number) => [
      ...Array.from({ length: 40 }, (_, i) => ({
        ...signed(eve, 1, w * 1_000 + i),
        sig: toBase64url(new Uint8Array(64)),
      })),
      ...Array.from({ length: 40 }, (_, i) => signed(eve, 99 + w, w * 1_000 + 100 + i)),
      ...strangers.map((s, i) => signed(s, 1, w * 1_000 + 200 + i)),
    ];
    const WAVES = 5;
    const started = performance.now();
    for (let w = 0; w < WAVES; w++) {
      for (const junk of wave(w)) eveLink.nc.publish(subject, JSON.stringify(junk));
      await eveLink.nc.flush();
      await new Promise((r) => setTimeout(r, 400));
    }
    const total = WAVES * 100;
    await eventually(async () => expect(atB.dropped.length).toBe(total), 30_000, 50);
    const elapsed = performance.now() - started;
    const refreshes = b.refreshes - before;
    console.log(
      `junk flood: ${total} envelopes (${WAVES * 60} asking for a refresh) over ${elapsed.toFixed(0)} ms → ${refreshes} refreshes`,
    );
    // Runs start ≥ 1 s apart: within the flood's span, plus the one already queued at its end.
    expect(refreshes).toBeLessThanOrEqual(Math.floor(elapsed / 1_000) + 2);
    expect(atB.got).toEqual([]);
    const reasons = new Set(atB.dropped);
    expect(reasons).toContain("message signature does not verify");
    expect([...reasons].some((r) => /no key for epoch|not a member|waiting for a refresh/.test(r))).toBe(true);
    // And the channel still works for the members.
    await a.publish("after the flood");
    await eventually(async () => expect(atB.texts()).toEqual(["after the flood"]), 10_000, 20);
  });
});

describe("room channels through callout outages and removals (admissions expiring every 2 s)", () => {
  const nats = useCluster();
  const world = useWorld(nats, 2);
  const [alice, bob, carol] = ["alice", "bob", "carol"].map((n) => identity(n));
  if (!alice || !bob || !carol) throw new Error("identities");
  let ch: RoomChannel[];

  beforeAll(async () => {
    ch = (await roomOf(world(), [alice, bob, carol], "r2")).channels;
  });
  afterAll(async () => {
    await Promise.all((ch ?? []).map((c) => c.close()));
  });

  /** Publishes `text-N` until the listener has one (core NATS drops what is sent while a bot reconnects). */
  async function reaches(from: RoomChannel, to: { texts(): string[] }, text: string) {
    let n = 0;
    await eventually(
      async () => {
        await from.publish(`${text}-${n++}`).catch(() => {});
        expect(to.texts().some((t) => t.startsWith(text))).toBe(true);
      },
      30_000,
      250,
    );
  }

  it("the callout down and back: connections are refused meanwhile, then the channel resumes", async () => {
    const [a, b] = ch;
    if (!a || !b) throw new Error("channels");
    const atB = await listen(b);
    await reaches(a, atB, "before");
    const refusals: unknown[] = [];
    void (async () => {
      for await (const s of b.link.nc.status())
        if (s.type === "error" && s.error instanceof AuthorizationError) refusals.push(s);
    })();
    const w = world();
    await w.callout?.close();
    w.callout = undefined;
    // The admission expires within 2 s; every reconnect is then refused (nobody answers the callout).
    await eventually(async () => expect(refusals.length).toBeGreaterThanOrEqual(2), 30_000, 100);
    w.callout = await startDataplaneCallout(nats(), { ttlS: 2 });
    await reaches(a, atB, "after");
    expect(b.isRemoved).toBe(false);
  });

  it("a member removed from the room is reported removed when it is next admitted, and cannot publish", async () => {
    const [a, , c] = ch;
    if (!a || !c) throw new Error("channels");
    const atC = await listen(c);
    await reaches(a, atC, "still in");
    await world().client(alice).removeMember("r2", carol.signPublicKey);
    const removed = await Promise.race([
      c.removed,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("not reported removed in 30 s")), 30_000)),
    ]);
    expect(removed).toMatchObject({ reason: "permission_violation", operation: "subscription" });
    expect(removed.subject).toBe(c.room.subject);
    expect(c.isRemoved).toBe(true);
    await expect(c.publish("let me in")).rejects.toBeInstanceOf(RoomRemovedError);
    await expect(c.subscribe(() => {})).rejects.toBeInstanceOf(RoomRemovedError);
  });
});
