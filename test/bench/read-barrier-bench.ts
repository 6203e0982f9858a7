import { randomUUID } from "node:crypto";
import { eventually, type NatsCluster } from "@conclave/testkit";
import type { StoredMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { CONCURRENCY, SECONDS } from "./bench-options.ts";
import type { BenchWorld } from "./bench-world.ts";
import { type Figure, load } from "./measure.ts";

/**
 * Section 8 (issue 16 item 3): the two ways to make a read fresh enough for a
 * security decision, each as one guarded read of a key, beside the bare
 * leader read in the same run (docs/store.md, "Read path").
 * - witness (what ships): leader read, then a quorum write on another raft
 *   group (`conclave_witness`).
 * - barrier (../shared/NATS-FACTS.md): a write to a barrier key of the SAME
 *   stream, then a `multi_last` direct get of [key, barrier] that must show
 *   the barrier at or past that write (else the answering replica was behind).
 */
export async function readBarrierBench(cluster: NatsCluster, world: BenchWorld, profile: string): Promise<Figure[]> {
  const { js, jsm } = world.host.ctx.store.conn;
  const tag = profile.replace(/\W/g, "");
  const kvm = new Kvm(js);
  const replicas = cluster.nodes.length;
  // allow_direct (Kvm.create's default): the barrier read is a direct get, answered by any replica.
  const bucket = `bench_barrier_${tag}`;
  const data = await kvm.create(bucket, { replicas, history: 1 });
  const witness = await kvm.create(`bench_witness_${tag}`, { replicas, history: 1 });
  // A new R3 bucket answers "no responders" until its stream has elected a leader (seen in CI).
  await eventually(() => data.put("user", "v"), 30_000);
  await eventually(() => witness.put("w", "v"), 30_000);
  const stream = `KV_${bucket}`;
  const key = `$KV.${bucket}.user`;
  const leaderRead = () => jsm.streams.getMessage(stream, { last_by_subj: key });
  const section = `8 read barrier (${profile})`;
  const figures: Figure[] = [];

  const run = (op: (i: number) => Promise<unknown>) => load(op, { seconds: SECONDS, concurrency: CONCURRENCY });
  const raw = await run(leaderRead);
  const row = (name: string, r: typeof raw, note: string): Figure => ({
    section,
    name,
    ...r,
    ...(r === raw ? {} : { ratio: r.opsPerSec / raw.opsPerSec }),
    note: `${note}${r.errors} errors; max ${r.maxMs.toFixed(1)} ms`,
  });
  figures.push(row(`raw leader get (c=${CONCURRENCY})`, raw, "baseline; "));

  const witnessed = await run(async () => {
    await leaderRead();
    await witness.put("w", randomUUID());
  });
  figures.push(row("witness: leader get, then put on another stream", witnessed, ""));

  let behind = 0;
  const barrier = await run(async (i) => {
    const barrierKey = `barrier.${i % CONCURRENCY}`;
    const written = await data.put(barrierKey, "b");
    const msgs: StoredMsg[] = [];
    const batch = await jsm.direct.getLastMessagesFor(stream, { multi_last: [key, `$KV.${bucket}.${barrierKey}`] });
    for await (const m of batch) msgs.push(m);
    const seen = msgs.find((m) => m.subject.endsWith(`.${barrierKey}`))?.seq ?? 0;
    // A replica that had not applied our barrier answered: a guarded read would deny (or retry) here.
    if (seen < written) behind++;
  });
  figures.push(
    row("barrier: put on the same stream, then multi_last direct get", barrier, `${behind} behind the barrier, `),
  );
  await Promise.all([data.destroy(), witness.destroy()]);
  return figures;
}
