import { randomBytes } from "node:crypto";
import { ConclaveClient } from "@conclave/client";
import { usersTable } from "@conclave/runtime";
import type { ServiceProcess } from "../support/service-process.ts";
import { CONCURRENCY, REPLICA_COUNTS, SECONDS, TABLE_SIZES } from "./bench-options.ts";
import { type BenchWorld, spawnReplica } from "./bench-world.ts";
import { type Figure, load } from "./measure.ts";

/**
 * Section 7: how cost grows with work — signed-GET throughput with 1, 2 and 4
 * membership replicas (round robin), and latency as the users table grows.
 * Table growth writes projected user entries directly (10^5 users through the
 * command path would take the serialized projection ~20 min); the read path
 * under test reads exactly those entries.
 */
export async function scaleBench(world: BenchWorld): Promise<Figure[]> {
  const { host, bot } = world;
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
    const users = usersTable(host.ctx.store);
    const client = new ConclaveClient({ url: replicas[0]?.url ?? host.url, identity: bot, attempts: 1 });
    let size = 2;
    for (const target of TABLE_SIZES) {
      const now = new Date().toISOString();
      for (; size < target; size += 256) {
        await Promise.all(
          Array.from({ length: Math.min(256, target - size) }, () => {
            const key = randomBytes(32).toString("base64url");
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
      const r = await load(() => client.getUser(bot.signPublicKey), { seconds: SECONDS, concurrency: CONCURRENCY });
      figures.push({ section: "7 scale", name: `signed GET, users table ≈ ${target.toLocaleString("en")}`, ...r });
    }
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
  }
  return figures;
}
