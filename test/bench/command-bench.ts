import { randomUUID } from "node:crypto";
import { ConclaveClient } from "@conclave/client";
import { eventually } from "@conclave/testkit";
import { Kvm } from "@nats-io/kv";
import { fakeSealedKey } from "../support/membership-fixture.ts";
import { CONCURRENCY, SECONDS } from "./bench-options.ts";
import { spawnReplica } from "./bench-world.ts";
import { rawPlanLoad } from "./command-raw-bench.ts";
import { type Figure, load } from "./measure.ts";
import { perOp, withCpu } from "./process-cpu.ts";
import type { ClusterBench } from "./section.ts";

/**
 * Section 4: room commands through a membership replica — creates, then one
 * invite and one rekey into each room created — next to the raw operations a
 * command cannot do without, at the same concurrency: the append with an
 * expected subject sequence (optimistic concurrency) plus the plan's KV writes
 * (rawPlanLoad), the ratios' denominator; and, as a floor, the append with
 * one KV put. The create row carries the CPU per command of the replica and
 * of the NATS servers (process-cpu.ts).
 */
export async function commandBench({ cluster, world, profile }: ClusterBench): Promise<Figure[]> {
  const { store, bot, guest } = world;
  const section = `4 commands (${profile.name})`;
  const service = await spawnReplica(world);
  try {
    const replicas = cluster.nodes.length;
    const tag = profile.name.replace(/\W/g, "");
    const stream = `bench_events_${tag}`;
    await store.conn.jsm.streams.add({ name: stream, subjects: [`bench.${tag}.>`], num_replicas: replicas });
    const kv = await new Kvm(store.conn.js).create(`bench_cmd_${tag}`, { replicas, history: 1 });
    await eventually(() => kv.put("ready", "1"), 30_000);
    const raw = await load(
      async (i) => {
        const id = `${i}_${randomUUID().slice(0, 8)}`;
        await store.conn.js.publish(`bench.${tag}.${id}`, "{}", { expect: { lastSubjectSequence: 0 } });
        await kv.put(id, "{}");
      },
      { seconds: SECONDS, concurrency: CONCURRENCY },
    );
    const plan = await rawPlanLoad(store.conn, tag, replicas);
    const client = new ConclaveClient({ url: service.url, identity: bot, attempts: 1 });
    const rooms: string[] = [];
    const nats = cluster.nodes.map((n) => n.pid);
    const created = await withCpu({ service: [service.child.pid], nats }, () =>
      load(async () => rooms.push((await client.createRoom({ mode: "e2e", sealed_key: fakeSealedKey() })).id), {
        seconds: SECONDS,
        concurrency: CONCURRENCY,
      }),
    );
    const create = created.result;
    // Warm-up creates are rooms too; every row below touches each room once.
    const invite = await load(
      (i) => client.invite(rooms[i] as string, { member: guest.signPublicKey, sealed_key: fakeSealedKey() }),
      { seconds: SECONDS, concurrency: CONCURRENCY, warmup: 0, limit: rooms.length },
    );
    const sealed = () => ({ [bot.signPublicKey]: fakeSealedKey(), [guest.signPublicKey]: fakeSealedKey() });
    const rekey = await load((i) => client.rekey(rooms[i] as string, 2, sealed()), {
      seconds: SECONDS,
      concurrency: CONCURRENCY,
      warmup: 0,
      limit: invite.count,
    });
    const row = (name: string, r: typeof create, note: string): Figure => ({
      section,
      name,
      ...r,
      ratio: r.opsPerSec / plan.opsPerSec,
      note: `${r.errors} errors; ${note}`,
    });
    return [
      { section, name: `raw append (expected seq) + KV put (c=${CONCURRENCY})`, ...raw, note: "floor" },
      {
        section,
        name: `raw append + a room create's plan writes (c=${CONCURRENCY})`,
        ...plan,
        note: "baseline of every row below",
      },
      row(
        "signed POST /v1/rooms (create)",
        create,
        `decide, append, apply; service ${perOp(created.cpuMs.service, create.count)}, NATS ${perOp(created.cpuMs.nats, create.count)}`,
      ),
      row("signed POST /v1/rooms/{id}/members (invite)", invite, "one per room created"),
      row("signed POST /v1/rooms/{id}/keys (rekey)", rekey, "one per room invited into"),
    ];
  } finally {
    await service.stop();
  }
}
