import { randomUUID } from "node:crypto";
import { claimNonce, type NonceClaim, nonceKey } from "@conclave/auth";
import { ConclaveClient } from "@conclave/client";
import { bucketName, provisionBucket } from "@conclave/store";
import { eventually } from "@conclave/testkit";
import { Kvm } from "@nats-io/kv";
import { z } from "zod";
import { CONCURRENCY, SECONDS } from "./bench-options.ts";
import { spawnReplica } from "./bench-world.ts";
import { type Figure, load } from "./measure.ts";
import { perOp, withCpu } from "./process-cpu.ts";
import type { ClusterBench } from "./section.ts";

/** Sections 2 and 3: signed requests end to end and nonce claims, each next to raw KV in the same run. */
export async function authBench({ cluster, world, profile }: ClusterBench): Promise<Figure[]> {
  const { store, bot } = world;
  const service = await spawnReplica(world);
  const figures: Figure[] = [];
  const section = `2 e2e (${profile.name})`;
  try {
    const client = new ConclaveClient({ url: service.url, identity: bot, attempts: 1 });
    const bucket = `bench_raw_${profile.name.replace(/\W/g, "")}`;
    const kv = await new Kvm(store.conn.js).create(bucket, { replicas: cluster.nodes.length, history: 1 });
    // A new R3 bucket answers "no responders" until its stream has elected a leader (seen in CI): wait for that.
    await eventually(() => kv.put("ready", "1"), 30_000);
    const jsm = store.conn.jsm;
    // What a nonce claim needs of NATS: an atomic create (expected last subject sequence 0) carrying
    // a msg id (a retried claim that did apply is deduplicated, not taken for a replay), of the
    // claim's key and value, in a bucket made as conclave_nonces is (its TTL and limits).
    const twin = bucketName("nonces", "bench_raw");
    await provisionBucket(store.conn, "nonces", cluster.nodes.length, "bench_raw");
    const rawClaim = () =>
      store.conn.js.publish(
        `$KV.${twin}.${nonceKey(bot.signPublicKey, randomUUID())}`,
        JSON.stringify({ at: Date.now() }),
        { msgID: randomUUID(), expect: { lastSubjectSequence: 0 } },
      );
    await eventually(rawClaim, 30_000); // a new R3 bucket answers once its stream has a leader
    // What a signed GET needs of NATS: the allowlist read (a leader read, as KvTable.get does: `kv.get` on a
    // bucket made by Kvm.create is a direct get, cheaper, ../shared/NATS-FACTS.md) and the nonce claim.
    // CPU per operation of the measured processes (process-cpu.ts): the NATS servers for both rows, the
    // replica for the signed GET: work done, not time spent waiting for a shared core.
    const nats = cluster.nodes.map((n) => n.pid);
    const rawNats = await withCpu({ nats }, () =>
      load(
        async () => {
          await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.ready` });
          await rawClaim();
        },
        { seconds: SECONDS, concurrency: CONCURRENCY },
      ),
    );
    const raw = rawNats.result;
    figures.push({
      section,
      name: `raw leader get + raw claim (c=${CONCURRENCY})`,
      ...raw,
      note: `baseline; NATS ${perOp(rawNats.cpuMs.nats, raw.count)}`,
    });
    const measured = await withCpu({ service: [service.child.pid], nats }, () =>
      load(() => client.getUser(bot.signPublicKey), { seconds: SECONDS, concurrency: CONCURRENCY }),
    );
    const get = measured.result;
    figures.push({
      section,
      name: "signed GET /v1/users/{self}",
      ...get,
      ratio: get.opsPerSec / raw.opsPerSec,
      note: `${get.errors} errors; allowlist read + nonce claim; service ${perOp(measured.cpuMs.service, get.count)}, NATS ${perOp(measured.cpuMs.nats, get.count)}`,
    });

    const nonces = store.table("nonces", z.object({ at: z.number() }) as z.ZodType<NonceClaim>);
    const rawCreate = await load((i) => kv.create(`c${i}_${randomUUID().slice(0, 8)}`, "v"), {
      seconds: SECONDS,
      concurrency: CONCURRENCY,
    });
    figures.push({
      section: `3 nonce (${profile.name})`,
      name: `raw KV create (c=${CONCURRENCY})`,
      ...rawCreate,
      note: "floor: no msg id, no TTL",
    });
    // The claims' baseline is the raw claim; the plain create above (no msg id, no TTL) is the floor.
    const rawClaims = await load(rawClaim, { seconds: SECONDS, concurrency: CONCURRENCY });
    figures.push({
      section: `3 nonce (${profile.name})`,
      name: `raw claim: create with msg id, nonce bucket's config (c=${CONCURRENCY})`,
      ...rawClaims,
      note: "baseline of the claims",
    });
    const claims = await load(() => claimNonce(nonces, bot.signPublicKey, randomUUID(), Date.now()), {
      seconds: SECONDS,
      concurrency: CONCURRENCY,
    });
    figures.push({
      section: `3 nonce (${profile.name})`,
      name: "nonce claims",
      ...claims,
      ratio: claims.opsPerSec / rawClaims.opsPerSec,
      note: `target ≥ 90%; ${((100 * claims.opsPerSec) / rawCreate.opsPerSec).toFixed(0)}% of the plain create`,
    });
  } finally {
    await service.stop();
  }
  return figures;
}
