import { randomBytes } from "node:crypto";
import { ConclaveClient } from "@conclave/client";
import { CHUNK, chunkKey, readUserIndex, userIndexEntry } from "@conclave/membership";
import { usersTable } from "@conclave/runtime";
import { projected } from "@conclave/store";
import type { ServiceProcess } from "../support/service-process.ts";
import { CONCURRENCY, REPLICA_COUNTS, SECONDS, TABLE_SIZES } from "./bench-options.ts";
import { spawnReplica } from "./bench-world.ts";
import { type Figure, load } from "./measure.ts";
import type { ClusterBench } from "./section.ts";

// Listing: the first page of 100, a few requests at a time.
const LIST_PAGE = 100;
const LIST_CONCURRENCY = 4;

/**
 * Section 7: how cost grows with work — signed-GET throughput with 1, 2 and 4
 * membership replicas (round robin), and latency as the users table grows.
 * Table growth writes projected user entries and the tenant's index chunks
 * directly (10^5 users through the command path would take the serialized
 * projection ~20 min); the read paths under test read exactly those entries.
 * Listing: the first page of 100 through `GET /v1/users?tenant=`, next to the
 * raw read of the index chunks it rests on (docs/store.md, "Listings").
 */
export async function scaleBench({ world }: ClusterBench): Promise<Figure[]> {
  const { store, bot, operator } = world;
  const figures: Figure[] = [];
  const replicas: ServiceProcess[] = [];
  try {
    for (const n of REPLICA_COUNTS) {
      while (replicas.length < n) replicas.push(await spawnReplica(world));
      const clients = replicas.map((r) => new ConclaveClient({ url: r.url, identity: bot, attempts: 1 }));
      const r = await load(
        (i) => (clients[Math.abs(i) % clients.length] as ConclaveClient).getUser(bot.signPublicKey),
        {
          seconds: SECONDS,
          concurrency: CONCURRENCY,
        },
      );
      figures.push({ section: "7 scale", name: `signed GET, ${n} replica(s)`, ...r, note: "2 cores shared by all" });
    }
    const users = usersTable(store);
    const index = store.table("userIndex", projected(userIndexEntry));
    const url = replicas[0]?.url;
    if (!url) throw new Error("REPLICA_COUNTS is empty: the table-growth rows need a replica");
    const client = new ConclaveClient({ url, identity: bot, attempts: 1 });
    const lister = new ConclaveClient({ url, identity: operator, attempts: 1 });
    /** The first page of the bench tenant's users, through the route. */
    const listPage = async () => {
      for await (const page of lister.listUsersPages({ tenant: "bench", limit: LIST_PAGE })) return page;
    };
    // The bench tenant's index as the users projection writes it: chunks of CHUNK keys and a head.
    const added: string[] = [];
    const writeIndex = async () => {
      const chunks = Math.ceil(added.length / CHUNK);
      for (let n = 0; n < chunks; n += 64) {
        await Promise.all(
          Array.from({ length: Math.min(64, chunks - n) }, (_, i) =>
            index.put(chunkKey("bench", n + i), {
              seq: 1,
              data: { users: added.slice((n + i) * CHUNK, (n + i + 1) * CHUNK) },
            }),
          ),
        );
      }
      const last = chunks - 1;
      await index.put("bench.head", { seq: 1, data: { chunk: last, count: added.length - last * CHUNK } });
    };
    let size = 2;
    for (const target of TABLE_SIZES) {
      const now = new Date().toISOString();
      for (; size < target; size += 256) {
        await Promise.all(
          Array.from({ length: Math.min(256, target - size) }, () => {
            const key = randomBytes(32).toString("base64url");
            added.push(key);
            return users.put(key, {
              seq: 1,
              data: {
                sign_pub: key,
                kex_pub: key,
                tenant: "bench",
                role: "member",
                scopes: [],
                status: "active",
                created_at: now,
              },
            });
          }),
        );
      }
      await writeIndex();
      const r = await load(() => client.getUser(bot.signPublicKey), { seconds: SECONDS, concurrency: CONCURRENCY });
      const at = target.toLocaleString("en");
      figures.push({ section: "7 scale", name: `signed GET, users table ≈ ${at}`, ...r });
      const listed = await load(listPage, { seconds: SECONDS, concurrency: LIST_CONCURRENCY });
      const raw = await load(() => readUserIndex(index, "bench", { chunk: 0, offset: 0 }, LIST_PAGE), {
        seconds: SECONDS,
        concurrency: LIST_CONCURRENCY,
      });
      figures.push(
        { section: "7 scale", name: `GET /v1/users page of ${LIST_PAGE}, users ≈ ${at}`, ...listed },
        {
          section: "7 scale",
          name: `raw read of a page's index chunks, users ≈ ${at}`,
          ...raw,
          ratio: listed.p50Ms / raw.p50Ms,
          note: "listing / raw index read, p50",
        },
      );
    }
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
  }
  return figures;
}
