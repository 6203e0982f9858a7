import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDataplaneAdmissions, checkDataplaneRemovals } from "../chaos/dataplane-checkers.ts";
import { DataplaneBots } from "../chaos/dataplane-ops.ts";
import { type HistoryRecord, noFaults, type RequestRecord } from "../chaos/history.ts";
import { identity, register } from "../support/membership-fixture.ts";
import { call, type LiveWorld, startLiveWorld } from "./live-world.ts";

// The chaos suite's data-plane bots and invariants against the real thing (two servers, two
// callout replicas with live disconnect), until the chaos deployment has accounts: the workload
// ops record what bots received and which connects were admitted; the checkers must pass on it.

describe("data-plane chaos ops and invariants on a live data plane", () => {
  const nats = useCluster({ nodes: 2 });
  let world: LiveWorld;
  let bots: DataplaneBots;
  const history: HistoryRecord[] = [];
  let id = 1;
  const admin = identity("admin");
  const [owner, removed, revoked, stranger] = ["owner", "removed", "revoked", "stranger"].map((n) => identity(n));
  if (!owner || !removed || !revoked || !stranger) throw new Error("identities");
  const room = { id: "chaos-r1", subject: `conclave.room.${admin.tenant}.chaos-r1` };
  /** A signed call recorded like the chaos workload records it. */
  const recorded = async (
    op: string,
    who: typeof owner,
    method: string,
    path: string,
    summary: object,
    body?: unknown,
  ) => {
    const t0 = Date.now();
    await call(world, who, method, path, body);
    const r: RequestRecord = {
      type: "req",
      id: id++,
      t0,
      t1: Date.now(),
      op,
      replica: "membership",
      actor: who.name,
      signer: who.signPublicKey,
      method,
      path,
      summary: { ...summary },
      status: 200,
      nonce: String(id),
      fault: noFaults(),
    };
    history.push(r);
  };

  beforeAll(async () => {
    world = await startLiveWorld(nats());
    bots = new DataplaneBots(nats().urls, (r) => history.push(r));
    const t0 = Date.now();
    await register(world.membership, admin, [owner, removed, revoked], true);
    for (const u of [owner, removed, revoked]) {
      history.push({ ...addRecord(u.signPublicKey, t0), id: id++ });
    }
  });
  afterAll(async () => {
    await bots?.close();
    await world?.close();
  });
  const addRecord = (user: string, t0: number): RequestRecord => ({
    type: "req",
    id: 0,
    t0,
    t1: Date.now(),
    op: "user.add",
    replica: "membership",
    actor: "admin",
    signer: admin.signPublicKey,
    method: "POST",
    path: "/v1/users",
    summary: { user },
    status: 201,
    nonce: "add",
    fault: noFaults(),
  });

  it("removed and revoked bots get nothing past the bound; no unregistered or revoked key is admitted", {
    timeout: 90_000,
  }, async () => {
    await call(world, owner, "POST", "/v1/rooms", { id: room.id, mode: "clear", subject: room.subject });
    for (const m of [removed, revoked]) {
      await call(world, owner, "POST", `/v1/rooms/${room.id}/members`, { member: m.signPublicKey, role: "member" });
    }
    const publisher = await bots.join(owner);
    const listeners = await Promise.all([removed, revoked].map((b) => bots.join(b)));
    if (!publisher || listeners.some((l) => !l)) throw new Error("a member was refused");
    // Invited before they connected: their admissions carry the room.
    [removed, revoked].forEach((b, i) => {
      const nc = listeners[i];
      if (nc) bots.listen(b, nc, room);
    });
    const ticking = setInterval(() => bots.publish(publisher, room.subject), 5);
    try {
      await eventually(
        async () => {
          const got = new Set(history.flatMap((h) => (h.type === "delivery" ? [h.bot] : [])));
          expect(got.size).toBe(2);
        },
        20_000,
        100,
      );
      const member = removed.signPublicKey;
      await recorded("room.remove", owner, "DELETE", `/v1/rooms/${room.id}/members/${member}`, {
        room: room.id,
        member,
      });
      await recorded(
        "user.revoke",
        admin,
        "POST",
        `/v1/users/${revoked.signPublicKey}/revoke`,
        { user: revoked.signPublicKey },
        {},
      );
      await bots.probe(revoked);
      await bots.probe(stranger);
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      clearInterval(ticking);
    }
    const opts = { dataplaneBoundMs: 1_000, revokeBoundMs: 0 };
    const removals = checkDataplaneRemovals(history, opts);
    const admissions = checkDataplaneAdmissions(history, opts);
    console.log(`${removals.detail}\n${admissions.detail}`);
    expect([removals.verdict, removals.counterexamples]).toEqual(["PASS", []]);
    expect([admissions.verdict, admissions.counterexamples]).toEqual(["PASS", []]);
    // The probes were refused, and the removed bot came back (active, without the room).
    const refused = history
      .filter((h) => h.type === "admission" && !h.admitted)
      .map((h) => h.type === "admission" && h.bot);
    expect(refused).toEqual(expect.arrayContaining([revoked.signPublicKey, stranger.signPublicKey]));
  });
});
