import { ConflictError, type KvTable, Store } from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const counter = z.object({ n: z.number().int(), ops: z.array(z.string()) });
type Counter = z.infer<typeof counter>;

describe("KvTable on a single node", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  let table: KvTable<Counter>;

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "kv-test", replicas: 1 });
    await store.provision();
    table = store.table("budgets", counter);
  });
  afterAll(() => store?.close());

  it("create is atomic: a second create of the same key is a Conflict", async () => {
    await table.create("a", { n: 1, ops: [] });
    await expect(table.create("a", { n: 2, ops: [] })).rejects.toBeInstanceOf(ConflictError);
    expect((await table.get("a"))?.value.n).toBe(1);
  });

  it("update with a stale revision is a Conflict and changes nothing", async () => {
    const rev = await table.create("b", { n: 1, ops: [] });
    await table.update("b", { n: 2, ops: [] }, rev);
    await expect(table.update("b", { n: 3, ops: [] }, rev)).rejects.toBeInstanceOf(ConflictError);
    expect((await table.get("b"))?.value.n).toBe(2);
  });

  it("a retried create with the same msg id returns the first revision instead of a conflict", async () => {
    const first = await table.create("c", { n: 1, ops: [] }, { msgId: "create-c-1" });
    const again = await table.create("c", { n: 1, ops: [] }, { msgId: "create-c-1" });
    expect(again).toBe(first);
  });

  it("a deleted key reads as absent and can be created again", async () => {
    await table.create("d", { n: 1, ops: [] });
    await table.delete("d");
    expect(await table.get("d")).toBeUndefined();
    await table.create("d", { n: 5, ops: [] });
    expect((await table.get("d"))?.value.n).toBe(5);
  });

  it("values are validated on write: an invalid value is refused and nothing is stored", async () => {
    await expect(table.create("e", { n: 1.5, ops: [] })).rejects.toThrow();
    expect(await table.get("e")).toBeUndefined();
  });

  it("a stored value that fails its schema is Unavailable, never returned", async () => {
    await store.table("budgets", z.unknown()).put("f", { n: "not a number" });
    await expect(table.get("f")).rejects.toMatchObject({ name: "UnavailableError" });
  });

  it("a memoized table reads the leader every time: unchanged bytes give the same frozen value, a change shows at once", async () => {
    const memoized = table.memoized(10);
    const rev = await table.create("m", { n: 1, ops: [] });
    const first = await memoized.get("m");
    expect((await memoized.get("m"))?.value).toBe(first?.value);
    expect(Object.isFrozen(first?.value.ops)).toBe(true);
    await table.update("m", { n: 2, ops: ["revoked"] }, rev);
    expect((await memoized.get("m"))?.value).toEqual({ n: 2, ops: ["revoked"] });
    await table.delete("m");
    expect(await memoized.get("m")).toBeUndefined();
  });

  it("keys that could escape the bucket's subject space are refused", async () => {
    await expect(table.get("a b")).rejects.toThrow(/invalid KV key/);
    await expect(table.get("a.>")).rejects.toThrow(/invalid KV key/);
  });

  it("mutate on a known entry: one write and no read while current; read again once another writer moved the key", async () => {
    const ops: string[] = [];
    const observedStore = await Store.connect({
      ...cluster().connectOptions("operator"),
      name: "kv-known",
      replicas: 1,
      observer: { op: (kind) => ops.push(kind), casRetry: () => {} },
    });
    try {
      const t = observedStore.table("budgets", counter);
      const add = (op: string) => (cur: Counter | undefined) =>
        cur?.ops.includes(op) ? undefined : { n: (cur?.n ?? 0) + 1, ops: [...(cur?.ops ?? []), op] };
      const first = await t.mutate("g", add("one"));
      if (!first) throw new Error("nothing written");
      ops.length = 0;
      const second = await t.mutate("g", add("two"), 8, first);
      expect(ops).toEqual(["write"]);
      expect(second?.revision).toBeGreaterThan(first.revision);
      // Stale (`first` is two writes old): the guess loses its CAS, the key is read again, nothing is lost.
      ops.length = 0;
      const third = await t.mutate("g", add("three"), 8, first);
      // (the refused CAS itself may read: update checks whether the write that conflicts was its own)
      expect([ops[0], ops.includes("get"), ops.at(-1)]).toEqual(["write", true, "write"]);
      expect(third?.value).toEqual({ n: 3, ops: ["one", "two", "three"] });
      // A decision to write nothing is never taken on the guess: by this (stale) one "four" is done
      // already; the leader's value says it is not, so it is written.
      const stale = { value: { n: 9, ops: ["four"] }, revision: first.revision };
      const fourth = await t.mutate("g", add("four"), 8, stale);
      expect(fourth?.value).toEqual({ n: 4, ops: ["one", "two", "three", "four"] });
      expect((await t.get("g"))?.value.n).toBe(4);
    } finally {
      await observedStore.close();
    }
  });

  it("40 concurrent CAS increments all land exactly once", async () => {
    let retries = 0;
    const counted = await Store.connect({
      ...cluster().connectOptions("operator"),
      name: "kv-cas",
      replicas: 1,
      observer: { op: () => {}, casRetry: () => retries++ },
    });
    try {
      const t = counted.table("budgets", counter);
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          t.mutate(
            "hot",
            (cur) => {
              const op = `op-${i}`;
              if (cur?.ops.includes(op)) return undefined; // idempotent: already applied
              return { n: (cur?.n ?? 0) + 1, ops: [...(cur?.ops ?? []), op] };
            },
            200,
          ),
        ),
      );
      const final = await t.require("hot");
      expect(final.value.n).toBe(40);
      expect(new Set(final.value.ops).size).toBe(40);
      expect(retries).toBeGreaterThan(0);
    } finally {
      await counted.close();
    }
  });
});
