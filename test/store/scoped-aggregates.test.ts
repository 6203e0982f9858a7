import { EventLog, type Projection, ProjectionRunner, STREAMS, Store, SUBJECTS } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

// Room ids became tenant-scoped (`<tenant>.<id>`, issue 15): aggregate subjects gained a token,
// and projections' durable consumers created with the old one-token filter must follow.

describe("scoped aggregate ids", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  let log: EventLog;
  const seen: string[] = [];
  const projection: Projection = {
    name: "scoped",
    aggregateTypes: ["scoped"],
    tables: [],
    async apply(event) {
      seen.push(event.aggregate.id);
    },
  };

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "scoped-test", replicas: 1 });
    await store.provision();
    log = new EventLog(store.conn, { "scoped.made": z.object({}) }, { opTimeoutMs: store.opTimeoutMs });
  });
  afterAll(async () => {
    await store?.close();
  });

  it("a scoped id is its own aggregate, with its own version, next to an unscoped one", async () => {
    await log.append({ type: "scoped", id: "legacy" }, { type: "scoped.made", data: {}, actor: "t" }, 0);
    const e = await log.append({ type: "scoped", id: "acme.legacy" }, { type: "scoped.made", data: {}, actor: "t" }, 0);
    expect(await log.version({ type: "scoped", id: "acme.legacy" })).toBe(e.seq);
    expect((await log.read({ type: "scoped", id: "legacy" })).map((x) => x.aggregate.id)).toEqual(["legacy"]);
    expect(() => SUBJECTS.aggregate("scoped", "acme.*")).toThrow();
    expect(() => SUBJECTS.aggregate("scoped", "acme..x")).toThrow();
  });

  it("a durable consumer left with the one-token filter of an earlier version converges and sees scoped ids", async () => {
    await store.conn.jsm.consumers.add(STREAMS.events.name, {
      durable_name: "proj_scoped",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subjects: ["conclave.ev.scoped.*"],
      max_ack_pending: 1,
    });
    const runner = new ProjectionRunner(store, log, projection);
    runner.start();
    try {
      await eventually(async () => expect(seen).toEqual(["legacy", "acme.legacy"]));
      const info = await store.conn.jsm.consumers.info(STREAMS.events.name, "proj_scoped");
      expect(info.config.filter_subjects ?? [info.config.filter_subject]).toEqual(["conclave.ev.scoped.>"]);
    } finally {
      await runner.stop();
    }
  });
});
