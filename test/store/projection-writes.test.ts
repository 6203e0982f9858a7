import {
  EVENT_SEQ_HEADER,
  ProjectionWriter,
  projected,
  projectionTables,
  Store,
  type StoredEvent,
} from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

// Projection writes are guarded by event sequence, deletes included: a KV delete marker carries
// the deleting event's sequence, so an older event applied late (a second applier, a redelivery)
// cannot bring a deleted key back.
const entry = z.object({ n: z.number() });
const at = (seq: number): StoredEvent => ({
  v: 1,
  id: `e${seq}`,
  type: "t",
  aggregate: { type: "t", id: "a" },
  actor: "test",
  at: "2026-12-02T00:00:00.000Z",
  prev: seq - 1,
  data: {},
  seq,
});

describe("sequence-guarded projection writes", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  const writer = (seq: number) => new ProjectionWriter(at(seq), projectionTables(store));
  const table = () => store.table("memberRooms", projected(entry));

  beforeAll(async () => {
    store = await Store.connect({
      ...cluster().connectOptions("operator"),
      name: "projection-writes-test",
      replicas: 1,
    });
    await store.provision();
  });
  afterAll(() => store?.close());

  it("a stale put landing after a newer delete leaves the key deleted", async () => {
    await writer(5).put("memberRooms", entry, "k1", { n: 5 });
    await writer(7).delete("memberRooms", "k1");
    await writer(6).put("memberRooms", entry, "k1", { n: 6 });
    expect(await table().get("k1")).toBeUndefined();
    const last = await table().lastWrite("k1");
    expect(last?.deleted && last.header(EVENT_SEQ_HEADER)).toBe("7");
  });

  it("a delete of a key never written still guards it against an older put", async () => {
    await writer(7).delete("memberRooms", "k2");
    await writer(5).put("memberRooms", entry, "k2", { n: 5 });
    expect(await table().get("k2")).toBeUndefined();
  });

  it("a newer put after the delete brings the key back; the same event again changes nothing", async () => {
    await writer(7).delete("memberRooms", "k3");
    await writer(9).put("memberRooms", entry, "k3", { n: 9 });
    const written = await table().get("k3");
    expect(written?.value).toEqual({ seq: 9, data: { n: 9 } });
    await writer(9).put("memberRooms", entry, "k3", { n: 99 });
    await writer(9).delete("memberRooms", "k3");
    expect(await table().get("k3")).toEqual(written);
  });

  it("an older delete does not remove a newer value; a marker without our sequence counts as oldest", async () => {
    await writer(8).put("memberRooms", entry, "k4", { n: 8 });
    await writer(6).delete("memberRooms", "k4");
    expect((await table().get("k4"))?.value.seq).toBe(8);
    await table().delete("k5"); // a plain KV delete, as earlier versions wrote them
    await writer(1).put("memberRooms", entry, "k5", { n: 1 });
    expect((await table().get("k5"))?.value.seq).toBe(1);
  });
});
