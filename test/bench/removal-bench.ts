import { ConnectionKicker } from "@conclave/access";
import { eventually, NatsCluster } from "@conclave/testkit";
import { nkeyAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { connectBot } from "../access/bot-probe.ts";
import { call, removals, startLiveWorld } from "../access/live-world.ts";
import { identity, register } from "../support/membership-fixture.ts";
import { SMOKE } from "./bench-options.ts";
import { type Figure, pct } from "./measure.ts";

const REMOVALS = SMOKE ? 3 : 40;
const row = (section: string, name: string, ms: number[], note: string, rawP50?: number): Figure => {
  const sorted = [...ms].sort((a, b) => a - b);
  const p50Ms = pct(sorted, 50);
  return {
    section,
    name,
    // A latency row: its rate is one over its median, where that means anything.
    opsPerSec: p50Ms > 0 ? 1_000 / p50Ms : 0,
    p50Ms,
    p99Ms: pct(sorted, 99),
    ...(rawP50 !== undefined ? { ratio: rawP50 / Math.max(p50Ms, 0.001) } : {}),
    note: `${note}, max ${sorted.at(-1)?.toFixed(0)} ms, n=${ms.length}`,
  };
};

/**
 * Section 10: removal to effect on two servers with two callout replicas: how long after the
 * removal is sent the removed bot still gets room messages, and after its 2xx; next to the raw
 * CONNZ + KICK round trip of the system user on the same servers (docs/dataplane.md).
 */
export async function removalBench(): Promise<Figure[]> {
  const section = "10 removal (2 nodes)";
  const nats = await NatsCluster.start({ nodes: 2 });
  const world = await startLiveWorld(nats, "error");
  const system = await connect({
    servers: nats.urls,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(nats.credentials.system)),
  });
  const open: { nc: { close(): Promise<void> } }[] = [];
  try {
    const [admin, owner, victim, target] = ["admin", "owner", "victim", "target"].map((n) => identity(n));
    if (!admin || !owner || !victim || !target) throw new Error("identities");
    await register(world.membership, admin, [owner, victim, target], true);
    const subject = `conclave.room.${admin.tenant}.bench`;
    await call(world, owner, "POST", "/v1/rooms", { id: "bench", mode: "clear", subject });
    await call(world, owner, "POST", "/v1/rooms/bench/members", { member: victim.signPublicKey, role: "member" });
    const publisher = await connectBot(owner, nats.urls);
    const conns = await Promise.all(nats.urls.map((url) => connectBot(victim, [url])));
    open.push(publisher, ...conns);

    // Raw: the system user finds a connection on every server and closes it, by hand.
    const kicker = new ConnectionKicker({ system, account: "BOTS", stallMs: 200, timeoutMs: 5_000 });
    const raw: number[] = [];
    const targetConn = await connectBot(target, nats.urls);
    open.push(targetConn);
    for (let i = 0; i < REMOVALS; i++) {
      await eventually(() => targetConn.nc.flush(), 10_000, 20); // back from the previous round's kick
      const t = performance.now();
      const { kicked } = await kicker.kick(target.signPublicKey);
      if (i > 0) raw.push(performance.now() - t); // the first listing waits out the stall to learn the servers
      if (kicked !== 1) throw new Error(`raw kick closed ${kicked} connections`);
    }
    const samples = await removals(world, {
      owner,
      room: "bench",
      subject,
      victim,
      conns,
      boundMs: 1_000,
      publisher,
      count: REMOVALS,
    });
    const late = samples.reduce((n, s) => n + s.late, 0);
    const rawFigure = row(section, "raw CONNZ + KICK (system user)", raw, "baseline");
    return [
      rawFigure,
      row(
        section,
        "removal sent → last delivery",
        samples.map((s) => s.effectMs),
        "publishing every 5 ms",
        rawFigure.p50Ms,
      ),
      row(
        section,
        "removal 2xx → last delivery",
        samples.map((s) => s.lastDeliveryMs),
        `< 0: kicked before the 2xx arrived; ${late} delivered >1 s after`,
      ),
    ];
  } finally {
    await Promise.all(open.map((c) => c.nc.close()));
    await system.close();
    await world.close();
    await nats.stop();
  }
}
