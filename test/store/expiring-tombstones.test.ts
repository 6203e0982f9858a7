import { BUCKETS, bucketName, KvTable, provisionBucket, Store, TOMBSTONE_TTL_MS } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

// Issue 18, bounded answers and storage: a bucket whose keys come and go (membership) keeps no
// delete marker for ever. Its markers are purges with a message TTL, so the key leaves the
// stream once the TTL passes: listings stop stepping over it and it stops taking bucket bytes.
// The real TTL is an hour; a bucket of history 5 with a one-second TTL stands in for it here,
// so the test does not wait an hour and shows that no older revision outlives the marker.

const value = z.object({ v: z.number() });

describe("delete markers that expire", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "tombstones", replicas: 1 });
  });
  afterAll(() => store?.close());

  it("the membership read models' markers expire after an hour; provisioning turns on message TTLs for them", async () => {
    expect(TOMBSTONE_TTL_MS).toBe(3_600_000);
    for (const key of ["memberRooms", "roomKeys"] as const) {
      expect(BUCKETS[key].tombstoneTtlMs).toBe(TOMBSTONE_TTL_MS);
      await provisionBucket(store.conn, key, 1, "ttl_check");
      const info = await store.conn.jsm.streams.info(`KV_${bucketName(key, "ttl_check")}`);
      expect(info.config.allow_msg_ttl).toBe(true);
    }
    // A bucket whose deletes must stay (users: a removed user's marker is its revocation's trace) is untouched.
    await provisionBucket(store.conn, "users", 1, "ttl_check");
    expect((await store.conn.jsm.streams.info(`KV_${bucketName("users", "ttl_check")}`)).config.allow_msg_ttl).not.toBe(
      true,
    );
  });

  it("a deleted key of a history-5 bucket keeps no older revision behind its marker, and is gone from the stream after the TTL", async () => {
    const name = "tombstones_short_ttl";
    await new Kvm(store.conn.js).create(name, { history: 5, replicas: 1 });
    const stream = await store.conn.jsm.streams.info(`KV_${name}`);
    await store.conn.jsm.streams.update(`KV_${name}`, { ...stream.config, allow_msg_ttl: true });
    const table = new KvTable(
      name,
      value,
      { conn: store.conn, opTimeoutMs: 2_000 },
      { history: 5, tombstoneTtlMs: 1_000 },
    );
    await table.create("room.a", { v: 1 });
    const second = await table.update("room.a", { v: 2 }, (await table.get("room.a"))?.revision ?? 0);
    await table.delete("room.a", { revision: second, headers: { "Conclave-Event-Seq": "7" } });

    expect(await table.get("room.a")).toBeUndefined();
    const marker = await table.lastWrite("room.a");
    expect(marker?.deleted).toBe(true);
    expect(marker?.deleted && marker.header("Conclave-Event-Seq")).toBe("7");
    // The purge rolled up both revisions: when the marker goes, no old value comes back.
    const subjectsOf = async () =>
      (await store.conn.jsm.streams.info(`KV_${name}`, { subjects_filter: `$KV.${name}.>` })).state.subjects ?? {};
    expect(await subjectsOf()).toEqual({ [`$KV.${name}.room.a`]: 1 });

    await eventually(async () => {
      expect(await subjectsOf()).toEqual({});
    }, 10_000);
    expect(await table.lastWrite("room.a")).toBeUndefined();
    expect(await table.keysWithHistory(">")).toEqual([]);
    // A write that read before the delete and comes after the marker's TTL is refused (its revision is gone).
    await expect(table.update("room.a", { v: 3 }, second)).rejects.toThrow();
    // Re-adding it later is a plain create.
    await table.create("room.a", { v: 4 });
    expect((await table.get("room.a"))?.value).toEqual({ v: 4 });
  });

  it("pages in stream order step over markers but count them: a page looks at `limit` messages whatever was deleted", async () => {
    await provisionBucket(store.conn, "memberRooms", 1, "paging");
    const table = store.table("memberRooms", value, "paging");
    for (let i = 0; i < 30; i++) await table.create(`bot.t.gone${String(i).padStart(2, "0")}`, { v: i });
    for (let i = 0; i < 30; i++) await table.delete(`bot.t.gone${String(i).padStart(2, "0")}`);
    for (let i = 0; i < 5; i++) await table.create(`bot.t.live${i}`, { v: i });

    const first = await table.pageBySequence("bot.t.*", 0, 10);
    // Ten markers looked at, none returned; more follow, and the next page starts after the tenth.
    expect(first.keys).toEqual([]);
    expect(first.more).toBe(true);
    expect(first.last?.key).toBe("bot.t.gone09");
    const live: string[] = [];
    let page = first;
    let pages = 1;
    while (page.more) {
      page = await table.pageBySequence("bot.t.*", page.last?.seq ?? 0, 10);
      live.push(...page.keys.map((k) => k.key));
      pages++;
    }
    expect(live).toEqual(["bot.t.live0", "bot.t.live1", "bot.t.live2", "bot.t.live3", "bot.t.live4"]);
    expect(pages).toBe(4);
  });
});
