import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { type BotConnection, connectBot } from "./bot-probe.ts";
import { call, type LiveWorld, receiving, record, startCallout, startLiveWorld, ticker } from "./live-world.ts";

// Fail-safe: a change committed while no access replica runs is not lost. The durable feeds
// hold it, and the first replica to come back kicks the bot (the bound meanwhile: the admission lifetime).

describe("live disconnect resumes from its checkpoint", () => {
  const nats = useCluster({ nodes: 2 });
  let world: LiveWorld;
  const admin = identity("admin");
  const [owner, victim] = ["owner", "victim"].map((n) => identity(n));
  if (!owner || !victim) throw new Error("identities");
  const subject = `conclave.room.${admin.tenant}.resume`;
  const open: BotConnection[] = [];

  beforeAll(async () => {
    world = await startLiveWorld(nats());
    await register(world.membership, admin, [owner, victim], true);
    await call(world, owner, "POST", "/v1/rooms", { id: "resume", mode: "clear", subject });
    await call(world, owner, "POST", "/v1/rooms/resume/members", { member: victim.signPublicKey, role: "member" });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.nc.close()));
    await world?.close();
  });

  it("a removal made while every replica is down is kicked when one comes back", { timeout: 90_000 }, async () => {
    const publisher = await connectBot(owner, nats().urls);
    const conns = await Promise.all(nats().urls.map((url) => connectBot(victim, [url])));
    open.push(publisher, ...conns);
    const tick = ticker(publisher, subject);
    try {
      await receiving(conns, subject);
      for (const c of world.callouts.splice(0)) await c.close();
      await call(world, owner, "DELETE", `/v1/rooms/resume/members/${victim.signPublicKey}`);
      // Nobody to kick: permissions are fixed at connect, so the removed bot still receives.
      await receiving(conns, subject);
      const back = await startCallout(nats(), "c");
      world.callouts.push(back);
      const restarted = performance.now();
      // Within a few seconds of the replica's return, nothing reaches the removed bot any more.
      const settle = 5_000;
      await new Promise((r) => setTimeout(r, settle));
      const after = conns.map((c) => record(c, subject));
      await new Promise((r) => setTimeout(r, 1_000));
      for (const a of after) a.stop();
      const late = after.flatMap((a) => a.publishedAt).filter((t) => t > restarted + settle);
      expect(late).toEqual([]);
    } finally {
      tick.stop();
    }
  });
});
