import { ConnectionRegistry } from "@conclave/access";
import { BUCKETS } from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { type BotConnection, connectBot, connectOutcome } from "./bot-probe.ts";
import { connectSystem, type LiveWorld, metricSum, startLiveWorld } from "./live-world.ts";

// The registry of admitted connections (docs/dataplane.md, "Planned restarts"): the callout writes
// each admission's server and cid before it answers, for the admission's lifetime, and admits
// nobody when that write cannot commit (it is the admission's quorum witness).

const STREAM = `KV_${BUCKETS.botConnections.name}`;

describe("the callout registers every connection it admits", () => {
  const nats = useCluster({ nodes: 1 });
  let world: LiveWorld;
  let system: NatsConnection;
  const admin = identity("admin");
  const bot = identity("bot");
  const open: BotConnection[] = [];

  beforeAll(async () => {
    world = await startLiveWorld(nats());
    await register(world.membership, admin, [bot], true);
    system = await connectSystem(nats());
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.nc.close()));
    await system?.close();
    await world?.close();
  });

  it("under the server's id and the connection's cid, as the server lists it, expiring with the admission", async () => {
    const before = Date.now();
    const conn = await connectBot(bot, nats().urls);
    open.push(conn);
    const answer = await system.request(
      "$SYS.REQ.SERVER.PING.CONNZ",
      JSON.stringify({ user: bot.signPublicKey, acc: "BOTS" }),
      { timeout: 5_000 },
    );
    const listed = answer.json<{ server: { id: string }; data: { connections: { cid: number }[] } }>();
    const cids = listed.data.connections.map((c) => c.cid);
    expect(cids).toHaveLength(1);
    const ttlS = 600;
    const registry = new ConnectionRegistry(world.membership.ctx.store, ttlS);
    const entries = await registry.on(bot.signPublicKey, listed.server.id);
    expect(entries.map((e) => e.cid)).toEqual(cids);
    expect(entries[0]?.at).toBeGreaterThanOrEqual(before);
    expect(entries[0]?.at).toBeLessThanOrEqual(Date.now());
    // Stored with its own lifetime: the admission's (the callouts' default) plus a margin.
    const { jsm } = world.membership.ctx.store.conn;
    expect((await jsm.streams.info(STREAM)).config.allow_msg_ttl).toBe(true);
    const msg = await jsm.streams.getMessage(STREAM, {
      last_by_subj: `$KV.${BUCKETS.botConnections.name}.${bot.signPublicKey}.${listed.server.id}.${cids[0]}`,
    });
    expect(msg?.header?.get("Nats-TTL")).toBe(`${ttlS + 60}s`);
  });

  it("a full registry admits nobody (the store's answer, retried later) and admits again once it has room", async () => {
    const { jsm } = world.membership.ctx.store.conn;
    const info = await jsm.streams.info(STREAM);
    const refusalsBefore = await metricSum(world, 'conclave_access_decisions_total{outcome="store_unavailable"}');
    // Full: its limit down to what it holds.
    await jsm.streams.update(STREAM, { ...info.config, max_bytes: info.state.bytes });
    try {
      expect(await connectOutcome(bot, nats().urls)).toMatch(/authorization/i);
      const refusals = await metricSum(world, 'conclave_access_decisions_total{outcome="store_unavailable"}');
      expect(refusals - refusalsBefore).toBeGreaterThanOrEqual(1);
    } finally {
      await jsm.streams.update(STREAM, { ...info.config });
    }
    expect(await connectOutcome(bot, nats().urls)).toBe("admitted");
  });
});
