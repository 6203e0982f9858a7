import { ConnectionKicker, ConnectionRegistry } from "@conclave/access";
import { eventually, useCluster } from "@conclave/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { type BotConnection, connectBot } from "./bot-probe.ts";
import { connectSystem, type LiveWorld, startLiveWorld } from "./live-world.ts";

// The kicker on its own, against two servers: it must hear from every server it knows, or fail (and be retried).

describe("the connection kicker", () => {
  const nats = useCluster({ nodes: 2 });
  let world: LiveWorld;
  let system: NatsConnection;
  const admin = identity("admin");
  const bot = identity("bot");
  const bots: BotConnection[] = [];

  beforeAll(async () => {
    world = await startLiveWorld(nats());
    await register(world.membership, admin, [bot], true);
    system = await connectSystem(nats());
  });
  afterAll(async () => {
    await Promise.all(bots.map((b) => b.nc.close()));
    await system?.close();
    await world?.close();
  });

  it("a follow-up sweep closes only the connections started before its time", { timeout: 30_000 }, async () => {
    const drops = new Map<string, number>();
    const watch = (name: string, c: BotConnection) => {
      void (async () => {
        for await (const st of c.nc.status()) if (st.type === "disconnect") drops.set(name, (drops.get(name) ?? 0) + 1);
      })();
    };
    const older = await connectBot(bot, [nats().urls[0] as string]);
    await new Promise((r) => setTimeout(r, 50));
    const cutoff = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    const newer = await connectBot(bot, [nats().urls[1] as string]);
    watch("older", older);
    watch("newer", newer);
    const kicker = new ConnectionKicker({ system, account: "BOTS", stallMs: 300, timeoutMs: 5_000 });
    expect(await kicker.kick(bot.signPublicKey, cutoff)).toEqual({ kicked: 1, servers: 2 });
    await eventually(async () => expect(drops.get("older")).toBe(1));
    // Back under a new connection, started after the cutoff: a second sweep of that time finds nothing.
    await eventually(async () =>
      expect(await kicker.kick(bot.signPublicKey, cutoff)).toEqual({ kicked: 0, servers: 2 }),
    );
    expect(drops.get("newer")).toBeUndefined();
    await Promise.all([older.nc.close(), newer.nc.close()]);
  });

  it("closes the bot's connection on each server; a known server that stops answering fails the kick", {
    timeout: 60_000,
  }, async () => {
    for (const url of nats().urls) bots.push(await connectBot(bot, [url]));
    const kicker = new ConnectionKicker({ system, account: "BOTS", stallMs: 300, timeoutMs: 5_000 });
    expect(await kicker.kick(bot.signPublicKey)).toEqual({ kicked: 2, servers: 2 });
    // Nobody else's connections: a user with none is a complete listing of nothing.
    expect(await kicker.kick(admin.signPublicKey)).toEqual({ kicked: 0, servers: 2 });
    await nats().nodes[1]?.kill();
    await expect(kicker.kick(bot.signPublicKey)).rejects.toThrow(/CONNZ incomplete/);
    // Back, under a new server id: known by its name, so listings are complete again.
    await nats().nodes[1]?.start();
    await eventually(async () => expect((await kicker.kick(bot.signPublicKey)).servers).toBe(2), 30_000, 250);
  });
});

describe("the connection kicker and a server in lame-duck mode", () => {
  // Longer than the test: the draining server keeps its clients (and answers nothing) throughout.
  const nats = useCluster({ nodes: 2, lameDuckGracePeriod: "20s" });
  let world: LiveWorld;
  let system: NatsConnection;
  const admin = identity("admin");
  const bot = identity("bot");

  beforeAll(async () => {
    world = await startLiveWorld(nats());
    await register(world.membership, admin, [bot], true);
    system = await connectSystem(nats());
  });
  afterAll(async () => {
    await system?.close();
    await world?.close();
  });

  it("lists it from the registry and closes its connections by cid; without a registry the kick fails", {
    timeout: 60_000,
  }, async () => {
    const draining = nats().nodes[1];
    if (!draining) throw new Error("2 nodes");
    const conn = await connectBot(bot, [draining.url]);
    let dropped = false;
    void (async () => {
      for await (const st of conn.nc.status()) if (st.type === "disconnect") dropped = true;
    })();
    const serverId = conn.nc.info?.server_id as string;
    const withRegistry = new ConnectionKicker({
      system,
      account: "BOTS",
      stallMs: 300,
      timeoutMs: 5_000,
      // What the callout registered, read back the way the service does.
      registered: (signPub, id) => new ConnectionRegistry(world.membership.ctx.store, 600).on(signPub, id),
    });
    const without = new ConnectionKicker({ system, account: "BOTS", stallMs: 300, timeoutMs: 5_000 });
    try {
      expect(await withRegistry.learnServers()).toBe(2);
      expect(await without.learnServers()).toBe(2);
      await system.flush();
      const exited = draining.lameDuck();
      // Both kickers hear its lame-duck event; from then on it answers no listing.
      await new Promise((r) => setTimeout(r, 500));
      await expect(without.kick(bot.signPublicKey)).rejects.toThrow(/CONNZ incomplete: no answer from n2/);
      expect(dropped).toBe(false);
      const started = performance.now();
      expect(await withRegistry.kick(bot.signPublicKey)).toEqual({ kicked: 1, servers: 2 });
      await eventually(async () => expect(dropped).toBe(true), 5_000, 10);
      console.log(
        `closed on the draining server ${(performance.now() - started).toFixed(0)} ms after the kick (${serverId})`,
      );
      await conn.nc.close();
      // Not worth waiting out its grace.
      await draining.kill();
      await exited;
    } finally {
      withRegistry.stop();
      without.stop();
    }
  });
});
