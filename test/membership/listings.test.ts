import { randomBytes } from "node:crypto";
import type { KeyFile } from "@conclave/auth";
import { UserCommands, userCommands, userIndexEntry, usersProjection } from "@conclave/membership";
import { type Host, usersTable } from "@conclave/runtime";
import { compareProjection, projected, rebuildProjection, Store, type StoreObserver } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bootstrapOperator,
  fakeSealedKey,
  identity,
  ROOM_SCOPES,
  startMembershipHost,
} from "../support/membership-fixture.ts";
import { signedFetch } from "../support/signed-client.ts";

// Issue 18, items 1 and 2: every listing pages (`limit`, an opaque `cursor`, `next` absent on
// the last page), a tenant's user listing reads that tenant's index keys only, a page of them,
// and a cursor is refused outside the listing it came from (400), never followed.

type Listed = { users?: { sign_pub: string }[]; members?: { member: string }[]; rooms?: { id: string }[] };
type PageBody = Listed & { next?: string };
const errorOf = (body: unknown) => (body as { error?: { code?: string; message?: string } }).error;
const key = () => randomBytes(32).toString("base64url");

describe("listings page, by index, within the caller's scope", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  const operator = identity("operator", "local");
  const adminA = identity("admin-a", "tenant-a");
  const adminB = identity("admin-b", "tenant-b");
  const alice = identity("alice", "tenant-a");
  const actorOp = { signPub: operator.signPublicKey, role: "operator" as const, tenant: "local" };
  // Users of tenant-a besides its admin and alice; tenant-b gets BIG_TENANT.
  const A_USERS = 23;
  const BIG_TENANT = 1000;
  const seededA: string[] = [];

  const add = (k: KeyFile, role: "admin" | "member") =>
    userCommands(host.ctx).add(actorOp, {
      sign_pub: k.signPublicKey,
      kex_pub: k.kexPublicKey,
      tenant: k.tenant,
      role,
      scopes: role === "member" ? ROOM_SCOPES : [],
      name: k.name,
    });
  /** Appends `user.added` events straight to the log (no wait per user), then waits for the projection once. */
  const seed = async (tenant: string, n: number) => {
    const keys = Array.from({ length: n }, key);
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        keys.slice(i, i + 100).map((k) =>
          host.ctx.log.append(
            { type: "user", id: k },
            {
              type: "user.added",
              data: { sign_pub: k, kex_pub: key(), tenant, role: "member", scopes: [] },
              actor: operator.signPublicKey,
            },
            0,
          ),
        ),
      );
    }
    // Seeding, not a bound under test: a loaded machine projects ~50 users/s, so wait long enough.
    await host.ctx.projections.get("users")?.caughtUp(undefined, 180_000);
    return keys;
  };
  /** Every page of a listing at `limit`, following `next`. */
  const allPages = async (who: KeyFile, path: string, limit: number) => {
    const pages: PageBody[] = [];
    let cursor: string | undefined;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const res = await signedFetch(
        host.url,
        who,
        "GET",
        `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(res.status).toBe(200);
      const body = res.body as PageBody;
      pages.push(body);
      cursor = body.next;
    } while (cursor);
    return pages;
  };
  const signPubs = (pages: PageBody[]) => pages.flatMap((p) => (p.users ?? []).map((u) => u.sign_pub));

  beforeAll(async () => {
    host = await startMembershipHost(cluster());
    await bootstrapOperator(host, operator);
    await add(adminA, "admin");
    await add(adminB, "admin");
    await add(alice, "member");
    seededA.push(...(await seed("tenant-a", A_USERS)));
    await seed("tenant-b", BIG_TENANT);
    // Every seeded user applied before the first listing (under CI load the users projection lagged past a request's wait).
    await eventually(async () => {
      await host.ctx.projections.get("users")?.caughtUp();
    }, 120_000);
  }, 240_000);
  afterAll(async () => {
    await host?.close();
  });

  it("an admin pages through its tenant's users: every one exactly once, in a stable order, next absent at the end", async () => {
    const pages = await allPages(adminA, "/v1/users", 10);
    expect(pages.length).toBe(3);
    expect(pages.at(-1)?.next).toBeUndefined();
    const listed = signPubs(pages);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([adminA.signPublicKey, alice.signPublicKey, ...seededA].sort());
    // Stable: paging again at another size gives the same order.
    expect(signPubs(await allPages(adminA, "/v1/users", 7))).toEqual(listed);
  });

  it("limit and cursor are validated at the edge (400 naming the field)", async () => {
    for (const [query, field] of [
      ["limit=0", "limit"],
      ["limit=1001", "limit"],
      ["limit=ten", "limit"],
      ["cursor=%21%21", "cursor"],
      [`cursor=${Buffer.from("not json").toString("base64url")}`, "cursor"],
    ] as const) {
      for (const [who, path] of [
        [adminA, "/v1/users"],
        [alice, "/v1/me/rooms"],
        [alice, "/v1/rooms/r0/members"],
      ] as const) {
        const res = await signedFetch(host.url, who, "GET", `${path}?${query}`);
        expect(res.status, `${path}?${query}`).toBe(400);
        expect(errorOf(res.body)?.message).toContain(field);
      }
    }
    // The stated default and maximum.
    const first = (await signedFetch(host.url, adminB, "GET", "/v1/users")).body as PageBody;
    expect(first.users?.length).toBe(100);
    expect(((await signedFetch(host.url, adminB, "GET", "/v1/users?limit=1000")).body as PageBody).users?.length).toBe(
      1000,
    );
  });

  it("a cursor of tenant A's listing is refused to tenant B's admin and to the operator listing B (400), never followed", async () => {
    const { next } = (await signedFetch(host.url, adminA, "GET", "/v1/users?limit=5")).body as PageBody;
    expect(next).toBeDefined();
    for (const [who, path] of [
      [adminB, "/v1/users"],
      [operator, "/v1/users?tenant=tenant-b"],
    ] as const) {
      const sep = path.includes("?") ? "&" : "?";
      const res = await signedFetch(host.url, who, "GET", `${path}${sep}cursor=${next}`);
      expect(res.status).toBe(400);
      expect(errorOf(res.body)?.message).toContain("cursor");
    }
    // A forged cursor of A's own prefix, at any position, still reads A's index only.
    const forge = (p: object) => Buffer.from(JSON.stringify(p)).toString("base64url");
    const beyond = await signedFetch(
      host.url,
      adminA,
      "GET",
      `/v1/users?cursor=${forge({ key: "tenant-a.99", offset: 3 })}`,
    );
    expect(beyond.status).toBe(200);
    expect((beyond.body as PageBody).users).toEqual([]);
    const junk = await signedFetch(host.url, adminA, "GET", `/v1/users?cursor=${forge({ key: "tenant-a.x" })}`);
    expect(junk.status).toBe(400);
  });

  it("the operator lists every tenant, or one tenant, paged", async () => {
    const all = signPubs(await allPages(operator, "/v1/users", 400));
    expect(all.length).toBe(4 + A_USERS + BIG_TENANT);
    expect(new Set(all).size).toBe(all.length);
    const a = signPubs(await allPages(operator, "/v1/users?tenant=tenant-a", 10));
    expect([...a].sort()).toEqual([adminA.signPublicKey, alice.signPublicKey, ...seededA].sort());
  });

  it("a page of tenant A reads a page of A's index keys and its users, whatever tenant B holds", async () => {
    const reads = new Map<string, number>();
    const observer: StoreObserver = {
      op: (kind, target) => reads.set(`${kind} ${target}`, (reads.get(`${kind} ${target}`) ?? 0) + 1),
      casRetry: () => {},
    };
    const store = await Store.connect({
      ...cluster().connectOptions("operator"),
      name: "counting",
      replicas: 1,
      observer,
    });
    try {
      const users = new UserCommands({
        log: host.ctx.log,
        users: usersTable(store),
        index: store.table("userIndex", projected(userIndexEntry)),
        projection: host.ctx.projections.get("users") as never,
      });
      const page = await users.page("tenant-a", 10);
      expect(page.users.length).toBe(10);
      expect(page.next).toBeDefined();
      // The index's head and one chunk; 10 users; no enumeration at all.
      expect(Object.fromEntries(reads)).toEqual({ "get conclave_user_index": 2, "get conclave_users": 10 });
      reads.clear();
      // The same for a page of the big tenant: O(page), not O(tenant) nor O(table).
      expect((await users.page("tenant-b", 10)).users.length).toBe(10);
      expect(Object.fromEntries(reads)).toEqual({ "get conclave_user_index": 2, "get conclave_users": 10 });
      reads.clear();
      // A page of 200 from position 50 of chunk 3 spans two chunks of 128: the head and two gets.
      const middle = await users.page("tenant-b", 200, { key: "tenant-b.3", offset: 50 });
      expect(middle.users.length).toBe(200);
      expect(Object.fromEntries(reads)).toEqual({ "get conclave_user_index": 3, "get conclave_users": 200 });
    } finally {
      await store.close();
    }
  });

  it("a bucket keeping several revisions per key is never paged in stream order (a key would come once per revision)", async () => {
    await expect(usersTable(host.ctx.store).pageBySequence(">", 0, 10)).rejects.toThrow(/history 1/);
  });

  it("a rebuild of the users projection rebuilds the index and equals the live tables", async () => {
    await rebuildProjection(host.ctx.store, host.ctx.log, usersProjection);
    expect(await compareProjection(host.ctx.store, usersProjection)).toEqual([]);
  }, 120_000);

  it("a room's members and the caller's rooms page, and a cursor of another room is refused", async () => {
    const members = [1, 2, 3, 4].map((i) => identity(`m${i}`, "tenant-a"));
    for (const m of members) await add(m, "member");
    const ids = ["r1", "r2", "r3", "r4", "r5"];
    for (const id of ids) {
      const res = await signedFetch(host.url, alice, "POST", "/v1/rooms", {
        id,
        mode: "e2e",
        sealed_key: fakeSealedKey(),
      });
      expect(res.status).toBe(201);
    }
    for (const m of members) {
      const res = await signedFetch(host.url, alice, "POST", "/v1/rooms/r1/members", {
        member: m.signPublicKey,
        sealed_key: fakeSealedKey(),
      });
      expect(res.status).toBe(201);
    }
    const memberPages = await allPages(alice, "/v1/rooms/r1/members", 2);
    expect(memberPages.length).toBe(3);
    const listed = memberPages.flatMap((p) => (p.members ?? []).map((m) => m.member));
    expect(listed).toEqual([alice, ...members].map((k) => k.signPublicKey).sort());

    const roomPages = await allPages(alice, "/v1/me/rooms", 2);
    expect(roomPages.length).toBe(3);
    expect(roomPages.flatMap((p) => (p.rooms ?? []).map((r) => r.id))).toEqual(ids);

    const { next } = (await signedFetch(host.url, alice, "GET", "/v1/rooms/r1/members?limit=2")).body as PageBody;
    const other = await signedFetch(host.url, alice, "GET", `/v1/rooms/r2/members?cursor=${next}`);
    expect(other.status).toBe(400);
    expect(errorOf(other.body)?.message).toContain("cursor");
    // Another member's rooms cursor is not one of alice's listing.
    const m1 = members[0] as KeyFile;
    const theirs = (await signedFetch(host.url, m1, "GET", "/v1/me/rooms?limit=1")).body as PageBody;
    expect(theirs.rooms?.map((r) => r.id)).toEqual(["r1"]);
    const mine = (await signedFetch(host.url, alice, "GET", "/v1/me/rooms?limit=1")).body as PageBody;
    expect((await signedFetch(host.url, m1, "GET", `/v1/me/rooms?cursor=${mine.next}`)).status).toBe(400);

    // A room left counts in the page that meets its marker (KvTable.pageBySequence) and is never listed.
    const m2 = members[1] as KeyFile;
    for (const id of ["r2", "r3"]) {
      const res = await signedFetch(host.url, alice, "POST", `/v1/rooms/${id}/members`, {
        member: m2.signPublicKey,
        sealed_key: fakeSealedKey(),
      });
      expect(res.status).toBe(201);
    }
    expect((await signedFetch(host.url, alice, "DELETE", `/v1/rooms/r2/members/${m2.signPublicKey}`)).status).toBe(200);
    const leftPages = await allPages(m2, "/v1/me/rooms", 1);
    expect(leftPages.flatMap((p) => (p.rooms ?? []).map((r) => r.id))).toEqual(["r1", "r3"]);
    expect(leftPages.length).toBe(3);
  });
});
