import { ConclaveClient } from "@conclave/client";
import { readUserIndex, userIndexEntry } from "@conclave/membership";
import { projected } from "@conclave/store";
import { SeededUsers } from "../support/seeded-users.ts";
import type { ServiceProcess } from "../support/service-process.ts";
import { CONCURRENCY, REPLICA_COUNTS, SECONDS, TABLE_SIZES } from "./bench-options.ts";
import { type BenchWorld, spawnReplica } from "./bench-world.ts";
import { type Figure, load } from "./measure.ts";

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
export async function scaleBench(world: BenchWorld): Promise<Figure[]> {
  const { host, bot, operator } = world;
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
    const index = host.ctx.store.table("userIndex", projected(userIndexEntry));
    const client = new ConclaveClient({ url: replicas[0]?.url ?? host.url, identity: bot, attempts: 1 });
    const lister = new ConclaveClient({ url: replicas[0]?.url ?? host.url, identity: operator, attempts: 1 });
    /** The first page of the bench tenant's users, through the route. */
    const listPage = async () => {
      for await (const page of lister.listUsersPages({ tenant: "bench", limit: LIST_PAGE })) return page;
    };
    // The bench tenant already has the bot and the operator; the seeded users come on top.
    const seeded = new SeededUsers(host.ctx.store, "bench");
    for (const target of TABLE_SIZES) {
      await seeded.growTo(target - 2);
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
