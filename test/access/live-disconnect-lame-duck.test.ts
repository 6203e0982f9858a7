import { kickDurable } from "@conclave/access";
import { BUCKETS } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { type BotConnection, connectBot } from "./bot-probe.ts";
import { call, type LiveWorld, measureRemoval, metricSum, receiving, startLiveWorld, ticker } from "./live-world.ts";

// A planned restart (docs/dataplane.md, "Planned restarts"): from SIGUSR2 a server in lame-duck mode
// answers no CONNZ (nor anything else of its system account) while it keeps its clients until its
// grace period ends. A removal of a bot it holds must still act within the data plane's bound:
// the kicker closes it by the cid the callout registered when it admitted the connection. The
// kick feeds' consumers are led from that server too, so their leaders move in the restart (a
// feed that waited for missed heartbeats kicked up to 3 s late: seen in CI).

const BOUND_MS = 1_000;
// Far longer than the bound and the measurement: the draining server closes its clients itself only after it.
const GRACE = "10s";

describe("a removal acts on a server in lame-duck mode", () => {
  const nats = useCluster({ nodes: 3, lameDuckGracePeriod: GRACE });
  let world: LiveWorld;
  const admin = identity("admin");
  const [owner, victim, bystander] = ["owner", "victim", "bystander"].map((n) => identity(n));
  if (!owner || !victim || !bystander) throw new Error("identities");
  const room = "r-lame-duck";
  const subject = `conclave.room.${admin.tenant}.${room}`;
  const open: BotConnection[] = [];

  beforeAll(async () => {
    // The callouts (and their kickers) off the server that drains: their own connections do not
    // move, so nothing but the feeds' handling of the moved consumer leaders is under test.
    const stays = nats().urls.slice(0, 2);
    world = await startLiveWorld(nats(), "warn", [{}, {}], { CONCLAVE_NATS_URLS: stays.join(",") });
    await register(world.membership, admin, [owner, victim, bystander], true);
    await call(world, owner, "POST", "/v1/rooms", { id: room, mode: "clear", subject });
    for (const m of [victim, bystander]) {
      await call(world, owner, "POST", `/v1/rooms/${room}/members`, { member: m.signPublicKey, role: "member" });
    }
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.nc.close()));
    await world?.close();
  });

  /** Moves the consumer's leadership to `server` (stepping the leader down until it lands there). */
  const leadFrom = async (stream: string, consumer: string, server: string) => {
    const { nc, jsm } = world.membership.ctx.store.conn;
    await eventually(
      async () => {
        if ((await jsm.consumers.info(stream, consumer)).cluster?.leader === server) return;
        await nc
          .request(
            `$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${consumer}`,
            JSON.stringify({ placement: { preferred: server } }),
            {
              timeout: 5_000,
            },
          )
          .catch(() => {});
        throw new Error(`${consumer} not led from ${server} yet`);
      },
      30_000,
      300,
    );
  };

  it("closes the removed bot's connection on the draining server within the bound, and only that one", {
    timeout: 90_000,
  }, async () => {
    const draining = nats().nodes[2];
    if (!draining) throw new Error("3 nodes");
    // Both held by the server about to drain (and only by it: their reconnects cannot land there).
    const [victimConn, bystanderConn] = await Promise.all([
      connectBot(victim, [draining.url]),
      connectBot(bystander, [draining.url]),
    ]);
    const publisher = await connectBot(owner, [nats().urls[0] as string]);
    open.push(victimConn, bystanderConn, publisher);
    const dropped = new Map<string, number>();
    for (const [name, c] of [
      ["victim", victimConn],
      ["bystander", bystanderConn],
    ] as const) {
      void (async () => {
        for await (const s of c.nc.status()) if (s.type === "disconnect") dropped.set(name, performance.now());
      })();
    }
    for (const table of ["users", "memberRooms", "rooms"] as const) {
      await leadFrom(`KV_${BUCKETS[table].name}`, kickDurable(table), draining.name);
    }
    const tick = ticker(publisher, subject, 10);
    try {
      await receiving([victimConn, bystanderConn], subject);
      const kicksBefore = await metricSum(world, 'conclave_access_kicks_total{table="memberRooms"}');
      const exited = nats().lameDuck(2);
      // Its lame-duck event is the last thing its system account sends; the kickers hear it at once,
      // and the consumers' leaders move at once. Soon after: while the old leader still holds the
      // feeds' pulls (it heartbeats them until it stops JetStream, 1 s after the signal).
      await new Promise((r) => setTimeout(r, 150));
      const sample = await measureRemoval(world, {
        owner,
        room,
        subject,
        victim,
        conns: [victimConn],
        boundMs: BOUND_MS,
      });
      console.log(
        `removal of a bot on a server in lame-duck mode (grace ${GRACE}): last delivery ` +
          `${sample.lastDeliveryMs.toFixed(0)} ms after the 2xx, request → last delivery ${sample.effectMs.toFixed(0)} ms`,
      );
      expect(sample.late).toBe(0);
      expect(dropped.has("victim")).toBe(true);
      // The member left in the room is still on the draining server, receiving: nothing else was closed.
      expect(dropped.has("bystander")).toBe(false);
      await receiving([bystanderConn], subject);
      const kicks = await metricSum(world, 'conclave_access_kicks_total{table="memberRooms"}');
      expect(kicks - kicksBefore).toBeGreaterThanOrEqual(1);
      // The server's grace ends and it closes the rest itself.
      await exited;
      await eventually(async () => expect(dropped.has("bystander")).toBe(true));
    } finally {
      tick.stop();
    }
  });
});
