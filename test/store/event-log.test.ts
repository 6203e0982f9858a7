import {
  ConflictError,
  compareProjection,
  EventLog,
  type Projection,
  ProjectionRunner,
  ProjectionWriter,
  projectionTables,
  rebuildProjection,
  STREAMS,
  Store,
  UnavailableError,
} from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { AckPolicy } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

// A small aggregate for the log's contract: a tally that is opened, added to, and closed.
const schemas = {
  "tally.opened": z.object({ owner: z.string() }),
  "tally.added": z.object({ n: z.number().int().positive() }),
  "tally.closed": z.object({}),
};
const tallyState = z.object({ owner: z.string(), total: z.number().int() });
const ownerIndex = z.object({ total: z.number().int() });

const tallyProjection: Projection = {
  name: "tally",
  aggregateTypes: ["tally"],
  tables: ["rooms", "memberRooms"],
  async apply(event, tx) {
    const id = event.aggregate.id;
    const current = await tx.get("rooms", tallyState, id);
    switch (event.type) {
      case "tally.opened": {
        const { owner } = event.data as { owner: string };
        await tx.put("rooms", tallyState, id, { owner, total: 0 });
        await tx.put("memberRooms", ownerIndex, `${owner}.${id}`, { total: 0 });
        return;
      }
      case "tally.added": {
        if (!current) return;
        const total = current.total + (event.data as { n: number }).n;
        await tx.put("rooms", tallyState, id, { ...current, total });
        await tx.put("memberRooms", ownerIndex, `${current.owner}.${id}`, { total });
        return;
      }
      case "tally.closed": {
        if (!current) return;
        await tx.delete("rooms", id);
        await tx.delete("memberRooms", `${current.owner}.${id}`);
        return;
      }
    }
  },
};

describe("event log on a 3-node R3 cluster", () => {
  const cluster = useCluster({ nodes: 3 });
  let store: Store;
  let log: EventLog;

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "events-test", replicas: 3 });
    await store.provision();
    log = new EventLog(store.conn, schemas, { opTimeoutMs: store.opTimeoutMs });
  });
  afterAll(() => store?.close());

  it("two concurrent appends at the same version: exactly one wins, the other is a Conflict", async () => {
    for (let round = 0; round < 10; round++) {
      const tally = { type: "tally", id: `race-${round}` };
      const v = (await log.append(tally, { type: "tally.opened", data: { owner: "o" }, actor: "t" }, 0)).seq;
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () => log.append(tally, { type: "tally.added", data: { n: 1 }, actor: "t" }, v)),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results.filter((r) => r.status === "rejected")) {
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      }
      expect(await log.read(tally)).toHaveLength(2);
    }
  });

  it("an append to an aggregate that already exists at version 0 is a Conflict", async () => {
    const tally = { type: "tally", id: "dup" };
    await log.append(tally, { type: "tally.opened", data: { owner: "o" }, actor: "t" }, 0);
    await expect(
      log.append(tally, { type: "tally.opened", data: { owner: "o" }, actor: "t" }, 0),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it("events are validated: bad data and unknown types are refused and nothing is stored", async () => {
    const tally = { type: "tally", id: "invalid" };
    await expect(log.append(tally, { type: "tally.added", data: { n: -1 }, actor: "t" }, 0)).rejects.toThrow();
    await expect(log.append(tally, { type: "tally.renamed", data: {}, actor: "t" }, 0)).rejects.toThrow(
      /unknown event type/,
    );
    expect(await log.version(tally)).toBe(0);
  });

  it("events carry actor, time and the version they were decided on, read back in order", async () => {
    const tally = { type: "tally", id: "ordered" };
    const a = await log.append(tally, { type: "tally.opened", data: { owner: "o" }, actor: "alice" }, 0);
    const b = await log.append(tally, { type: "tally.added", data: { n: 2 }, actor: "bob" }, a.seq);
    const events = await log.read(tally);
    expect(events.map((e) => [e.type, e.actor, e.prev, e.seq])).toEqual([
      ["tally.opened", "alice", 0, a.seq],
      ["tally.added", "bob", a.seq, b.seq],
    ]);
    expect(Date.parse(events[0]?.at ?? "")).toBeGreaterThan(Date.now() - 60_000);
  });

  it("retrying an append with the same id stores it once", async () => {
    const tally = { type: "tally", id: "retry" };
    const first = await log.append(
      tally,
      { id: "evt-retry-1", type: "tally.opened", data: { owner: "o" }, actor: "t" },
      0,
    );
    const again = await log.append(
      tally,
      { id: "evt-retry-1", type: "tally.opened", data: { owner: "o" }, actor: "t" },
      0,
    );
    expect(again.seq).toBe(first.seq);
    expect(await log.read(tally)).toHaveLength(1);
  });

  it("the events stream is immutable: deleting an event is refused", async () => {
    const tally = { type: "tally", id: "immutable" };
    const e = await log.append(tally, { type: "tally.opened", data: { owner: "o" }, actor: "t" }, 0);
    await expect(store.conn.jsm.streams.deleteMessage(STREAMS.events.name, e.seq)).rejects.toThrow();
    expect(await log.read(tally)).toHaveLength(1);
  });
});

describe("projections on a 3-node R3 cluster", () => {
  const cluster = useCluster({ nodes: 3 });
  let store: Store;
  let log: EventLog;

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "projection-test", replicas: 3 });
    await store.provision();
    log = new EventLog(store.conn, schemas, { opTimeoutMs: store.opTimeoutMs });
  });
  afterAll(() => store?.close());

  const rooms = () => projectionTables(store)("rooms", tallyState);

  it("a crash between append and projection converges when the runner comes back", async () => {
    // The runner is not running: these appends are acknowledged but not projected (the "crash").
    const t = { type: "tally", id: "crash-a" };
    let v = (await log.append(t, { type: "tally.opened", data: { owner: "ann" }, actor: "t" }, 0)).seq;
    v = (await log.append(t, { type: "tally.added", data: { n: 5 }, actor: "t" }, v)).seq;
    expect(await rooms().get("crash-a")).toBeUndefined();

    const runner = new ProjectionRunner(store, log, tallyProjection);
    runner.start();
    await runner.caughtUp(v);
    expect((await rooms().get("crash-a"))?.value).toEqual({ seq: v, data: { owner: "ann", total: 5 } });
    await runner.stop();
  });

  it("a crash in the middle of projecting an event (applied, not acked) converges without double counting", async () => {
    const runner = new ProjectionRunner(store, log, tallyProjection);
    runner.start();
    await runner.caughtUp();
    await runner.stop();

    const t = { type: "tally", id: "crash-b" };
    let v = (await log.append(t, { type: "tally.opened", data: { owner: "bea" }, actor: "t" }, 0)).seq;
    v = (await log.append(t, { type: "tally.added", data: { n: 3 }, actor: "t" }, v)).seq;
    // A replica that died after writing the read model but before acking: apply both events to
    // the live tables behind the runner's back; its checkpoint still points before them.
    for (const event of await log.read(t)) {
      await tallyProjection.apply(event, new ProjectionWriter(event, projectionTables(store)));
    }
    expect(await runner.checkpoint()).toBeLessThan(v);
    expect((await rooms().get("crash-b"))?.value.data.total).toBe(3);

    runner.start();
    await runner.caughtUp();
    await runner.stop();
    expect((await rooms().get("crash-b"))?.value).toEqual({ seq: v, data: { owner: "bea", total: 3 } });
  });

  it("a projection that does not catch up in time is Unavailable (503 to a caller), not an internal error", async () => {
    const stopped = new ProjectionRunner(store, log, tallyProjection);
    const t = { type: "tally", id: "never-projected" };
    const e = await log.append(t, { type: "tally.opened", data: { owner: "x" }, actor: "t" }, 0);
    await expect(stopped.caughtUp(e.seq, 300)).rejects.toBeInstanceOf(UnavailableError);
    // Let the next test's runners apply it.
  });

  it("the checkpoint is durable and shared: a second runner (another replica) continues where the first stopped", async () => {
    const first = new ProjectionRunner(store, log, tallyProjection);
    first.start();
    const t = { type: "tally", id: "handover" };
    const v = (await log.append(t, { type: "tally.opened", data: { owner: "cy" }, actor: "t" }, 0)).seq;
    await first.caughtUp();
    await first.stop();
    await log.append(t, { type: "tally.added", data: { n: 7 }, actor: "t" }, v);
    const second = new ProjectionRunner(store, log, tallyProjection);
    second.start();
    await second.caughtUp();
    await second.stop();
    expect((await rooms().get("handover"))?.value.data.total).toBe(7);
    const info = await store.conn.jsm.consumers.info(STREAMS.events.name, first.durable);
    expect(info.config.ack_policy).toBe(AckPolicy.Explicit);
    expect(info.config.max_ack_pending).toBe(1);
  });

  it("a rebuild from the log equals the live state, and a tampered live entry is reported", async () => {
    const runner = new ProjectionRunner(store, log, tallyProjection);
    runner.start();
    for (let i = 0; i < 5; i++) {
      const t = { type: "tally", id: `rebuild-${i}` };
      let v = (await log.append(t, { type: "tally.opened", data: { owner: `o${i % 2}` }, actor: "t" }, 0)).seq;
      v = (await log.append(t, { type: "tally.added", data: { n: i + 1 }, actor: "t" }, v)).seq;
      if (i === 3) await log.append(t, { type: "tally.closed", data: {}, actor: "t" }, v);
    }
    await runner.caughtUp();
    await runner.stop();

    // A stale twin from an earlier rebuild must be dropped, not merged into.
    const twin = store.table("rooms", z.unknown(), "rebuild");
    await rebuildProjection(store, log, tallyProjection);
    await twin.put("leftover", { seq: 1, data: { owner: "x", total: 0 } });
    const applied = await rebuildProjection(store, log, tallyProjection);
    expect(applied).toBeGreaterThan(10);
    expect(await twin.get("leftover")).toBeUndefined();
    expect(await compareProjection(store, tallyProjection)).toEqual([]);
    expect(await rooms().get("rebuild-3")).toBeUndefined();

    // The comparison can fail: corrupt one live entry behind the projection's back.
    const live = await rooms().require("rebuild-1");
    await rooms().update("rebuild-1", { seq: live.value.seq, data: { ...live.value.data, total: 999 } }, live.revision);
    const diff = await compareProjection(store, tallyProjection);
    expect(diff.map((d) => d.key)).toEqual(["rebuild-1"]);
  });
});
