import { randomUUID } from "node:crypto";
import { claimNonce, type NonceClaim } from "@conclave/auth";
import { ConclaveClient } from "@conclave/client";
import { eventually, type NatsCluster } from "@conclave/testkit";
import { Kvm } from "@nats-io/kv";
import { z } from "zod";
import { CONCURRENCY, SECONDS } from "./bench-options.ts";
import { type BenchWorld, spawnReplica } from "./bench-world.ts";
import { type Figure, load } from "./measure.ts";

/** Sections 2 and 3: signed requests end to end and nonce claims, each next to raw KV in the same run. */
export async function authBench(cluster: NatsCluster, world: BenchWorld, profile: string): Promise<Figure[]> {
  const { host, bot } = world;
  const service = await spawnReplica(world);
  const figures: Figure[] = [];
  const section = `2 e2e (${profile})`;
  try {
    const client = new ConclaveClient({ url: service.url, identity: bot, attempts: 1 });
    const bucket = `bench_raw_${profile.replace(/\W/g, "")}`;
    const kv = await new Kvm(host.ctx.store.conn.js).create(bucket, { replicas: cluster.nodes.length, history: 1 });
    // A new R3 bucket answers "no responders" until its stream has elected a leader (seen in CI): wait for that.
    await eventually(() => kv.put("ready", "1"), 30_000);
    const jsm = host.ctx.store.conn.jsm;
    const raw = await load(
      async (i) => {
        const key = `k${i}_${randomUUID().slice(0, 8)}`;
        await kv.create(key, "v");
        // A leader read, as KvTable.get does: `kv.get` on a bucket made by Kvm.create is a direct get
        // (allow_direct, ../shared/NATS-FACTS.md), a cheaper operation than the one the service needs.
        await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` });
      },
      { seconds: SECONDS, concurrency: CONCURRENCY },
    );
    figures.push({ section, name: `raw KV create + leader get (c=${CONCURRENCY})`, ...raw, note: "baseline" });
    const get = await load(() => client.getUser(bot.signPublicKey), { seconds: SECONDS, concurrency: CONCURRENCY });
    figures.push({
      section,
      name: "signed GET /v1/users/{self}",
      ...get,
      ratio: get.opsPerSec / raw.opsPerSec,
      note: `${get.errors} errors; user read + nonce claim`,
    });
    const post = await load(() => client.createRoom({ mode: "clear" }), { seconds: SECONDS, concurrency: CONCURRENCY });
    figures.push({
      section,
      name: "signed POST /v1/rooms (create)",
      ...post,
      ratio: post.opsPerSec / raw.opsPerSec,
      note: `${post.errors} errors; append + inline apply (snapshot last)`,
    });

    const nonces = host.ctx.store.table("nonces", z.object({ at: z.number() }) as z.ZodType<NonceClaim>);
    const rawCreate = await load((i) => kv.create(`c${i}_${randomUUID().slice(0, 8)}`, "v"), {
      seconds: SECONDS,
      concurrency: CONCURRENCY,
    });
    figures.push({
      section: `3 nonce (${profile})`,
      name: `raw KV create (c=${CONCURRENCY})`,
      ...rawCreate,
      note: "baseline",
    });
    const claims = await load(() => claimNonce(nonces, bot.signPublicKey, randomUUID(), Date.now()), {
      seconds: SECONDS,
      concurrency: CONCURRENCY,
    });
    figures.push({
      section: `3 nonce (${profile})`,
      name: "nonce claims",
      ...claims,
      ratio: claims.opsPerSec / rawCreate.opsPerSec,
      note: "target ≥ 80%",
    });
  } finally {
    await service.stop();
  }
  return figures;
}
