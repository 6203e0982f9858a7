import { EventLog, STREAMS, Store } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

// nats-server 2.15 caps a stream at 1,000 consumers by default. Every aggregate read scans
// with an ordered consumer; one left behind per read (nats.js keeps it for 5 minutes after
// stop) made the event log refuse reads after about a thousand of them (seen under load:
// "maximum consumers limit reached", 10026).
const schemas = { "tally.opened": z.object({ owner: z.string() }) };
const READS = 1_100;

describe("event log reads leave no consumer behind", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  let log: EventLog;

  beforeAll(async () => {
    store = await Store.connect({
      ...cluster().connectOptions("operator"),
      name: "events-consumers-test",
      replicas: 1,
    });
    await store.provision();
    log = new EventLog(store.conn, schemas, { opTimeoutMs: store.opTimeoutMs });
  });
  afterAll(() => store?.close());

  const consumerCount = async () => (await store.conn.jsm.streams.info(STREAMS.events.name)).state.consumer_count;

  it(`${READS} reads of an aggregate all answer, and the stream's consumers return to what they were`, async () => {
    const tally = { type: "tally", id: "many-reads" };
    await log.append(tally, { type: "tally.opened", data: { owner: "o" }, actor: "t" }, 0);
    const before = await consumerCount();
    const limit = pLimit(16);
    const reads = await Promise.all(Array.from({ length: READS }, () => limit(() => log.read(tally))));
    expect(reads.every((events) => events.length === 1)).toBe(true);
    await eventually(async () => expect(await consumerCount()).toBe(before), 10_000);
  }, 120_000);
});
