import { randomBytes } from "node:crypto";
import { appendToUserIndex, CHUNK, readUserIndex, userIndexEntry } from "@conclave/membership";
import { ProjectionWriter, projected, projectionTables, Store, type StoredEvent } from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The users index after a crash between its writes and the user's entry: the runner redelivers
// `user.added`, and the user must still be listed exactly once, at a chunk boundary too (where
// recomputing the position from the already-written head would open a second chunk for it).

const key = () => randomBytes(32).toString("base64url");
const added = (seq: number, signPub: string): StoredEvent => ({
  v: 1,
  id: `e${seq}`,
  type: "user.added",
  aggregate: { type: "user", id: signPub },
  actor: "test",
  at: "2026-12-02T00:00:00.000Z",
  prev: 0,
  data: {},
  seq,
});

describe("users index under redelivery", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  const index = () => store.table("userIndex", projected(userIndexEntry));

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "user-index-test", replicas: 1 });
    await store.provision();
  });
  afterAll(() => store?.close());

  it("a user.added applied twice is listed once, including the user that fills a chunk", async () => {
    const tenant = "redelivery";
    const users = Array.from({ length: CHUNK + 2 }, key);
    for (const [i, u] of users.entries()) {
      const event = added(i + 1, u);
      await appendToUserIndex(new ProjectionWriter(event, projectionTables(store)), tenant, u);
      // Every second one redelivered, among them the CHUNK-th (it fills chunk 0).
      if (i % 2 === 1 || i === CHUNK - 1) {
        await appendToUserIndex(new ProjectionWriter(event, projectionTables(store)), tenant, u);
      }
    }
    const listed: string[] = [];
    let from = { chunk: 0, offset: 0 };
    for (;;) {
      const page = await readUserIndex(index(), tenant, from, 50);
      listed.push(...page.signPubs);
      if (!page.next) break;
      from = page.next;
    }
    expect(listed).toEqual(users);
  });
});
