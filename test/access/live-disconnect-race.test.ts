import type { AdmissionSources } from "@conclave/access";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { type BotConnection, connectBot } from "./bot-probe.ts";
import { call, type LiveWorld, metricSum, receiving, record, startLiveWorld, ticker } from "./live-world.ts";

// An admission in flight across a change (issue 14 item 3: "a bot that reconnects in between cannot
// keep old permissions"). The bot's connect reads its facts (still a member), the removal commits and
// its kick lists the bot's connections, and only then does the connect register at its server, with
// the room in its permissions. The first sweep could not see it; the follow-up sweeps
// (live-disconnect.ts, `followUp`) must close it within the data plane's bound, not at its expiry.

const BOUND_MS = 1_000;

describe("a connect admitted on facts read before a removal", () => {
  const nats = useCluster({ nodes: 2 });
  let world: LiveWorld;
  const admin = identity("admin");
  const owner = identity("owner");
  const victim = identity("victim");
  const room = "race";
  const subject = `conclave.room.${admin.tenant}.${room}`;
  const open: BotConnection[] = [];
  /** Set while the victim's next admission is to be held after its facts are read. */
  let hold: { read: () => void; release: Promise<void> } | undefined;

  // One callout replica, so the held connect is certainly its; the facts as the store gives them.
  const held = (store: AdmissionSources): AdmissionSources => ({
    ...store,
    roomsOf: async (signPub, atMost) => {
      const rooms = await store.roomsOf(signPub, atMost);
      const h = signPub === victim.signPublicKey ? hold : undefined;
      if (h) {
        hold = undefined;
        h.read();
        await h.release;
      }
      return rooms;
    },
  });

  beforeAll(async () => {
    world = await startLiveWorld(nats(), "warn", [{ facts: held }]);
    await register(world.membership, admin, [owner, victim], true);
    await call(world, owner, "POST", "/v1/rooms", { id: room, mode: "clear", subject });
    await call(world, owner, "POST", `/v1/rooms/${room}/members`, { member: victim.signPublicKey, role: "member" });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.nc.close()));
    await world?.close();
  });

  it("is closed by a follow-up sweep within the bound", { timeout: 60_000 }, async () => {
    const publisher = await connectBot(owner, nats().urls);
    open.push(publisher);
    const tick = ticker(publisher, subject);
    try {
      let read = () => {};
      let release = () => {};
      const factsRead = new Promise<void>((r) => {
        read = r;
      });
      hold = { read, release: new Promise<void>((r) => (release = r)) };
      const connecting = connectBot(victim, [nats().urls[0] as string]);
      await factsRead;
      const kicksBefore = await metricSum(world, 'conclave_access_kick_lag_seconds_count{table="memberRooms"}');
      const removedAt = await call(world, owner, "DELETE", `/v1/rooms/${room}/members/${victim.signPublicKey}`);
      // The removal's first sweep has listed the victim's connections: the held one was not among them.
      await eventually(
        async () => {
          const kicks = await metricSum(world, 'conclave_access_kick_lag_seconds_count{table="memberRooms"}');
          expect(kicks).toBeGreaterThan(kicksBefore);
        },
        1_000,
        10,
      );
      release();
      const late = await connecting;
      open.push(late);
      const releasedAt = performance.now();
      // Admitted on the old facts: it has the room.
      await receiving([late], subject, 2_000);
      const deliveries = record(late, subject);
      await new Promise((r) => setTimeout(r, BOUND_MS + 1_500));
      deliveries.stop();
      const afterBound = deliveries.publishedAt.filter((t) => t > Math.max(removedAt, releasedAt) + BOUND_MS);
      expect(afterBound).toEqual([]);
      expect(await metricSum(world, 'conclave_access_late_admissions_total{table="memberRooms"}')).toBeGreaterThan(0);
    } finally {
      tick.stop();
    }
  });
});
