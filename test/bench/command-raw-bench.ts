import { randomUUID } from "node:crypto";
import { eventually } from "@conclave/testkit";
import { Kvm } from "@nats-io/kv";
import { CONCURRENCY, SECONDS } from "./bench-options.ts";
import { type Figure, load } from "./measure.ts";
import type { ClusterBench } from "./section.ts";

/**
 * The raw operations a room create needs (issue 16 item 6), at the concurrency of section 2's
 * POST /v1/rooms: an append with an expected subject sequence, then the plan's KV writes as
 * applyRoomEvent issues them (each a leader read and an expected-revision publish): the owner's
 * members and member_rooms entries together, then the snapshot.
 */
export async function commandRawBench({ cluster, world, profile: { name: profile } }: ClusterBench): Promise<Figure[]> {
  const { js, jsm } = world.store.conn;
  const tag = profile.replace(/\W/g, "");
  const replicas = cluster.nodes.length;
  const stream = `bench_cmd_${tag}`;
  const subjects = `bench.cmd.${tag}`;
  await jsm.streams.add({ name: stream, subjects: [`${subjects}.>`], num_replicas: replicas });
  const bucket = `bench_plan_${tag}`;
  const kv = await new Kvm(js).create(bucket, { replicas, history: 1 });
  // A new R3 stream answers "no responders" until it has elected a leader: wait for both.
  await eventually(() => kv.put("ready", "1"), 30_000);
  await eventually(() => js.publish(`${subjects}.ready`, "1"), 30_000);
  const write = async (key: string) => {
    const last = await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` });
    await js.publish(`$KV.${bucket}.${key}`, "{}", { expect: { lastSubjectSequence: last?.seq ?? 0 } });
  };
  const raw = await load(
    async () => {
      const id = randomUUID();
      await js.publish(`${subjects}.${id}`, "{}", { msgID: id, expect: { lastSubjectSequence: 0 } });
      await Promise.all([write(`m.${id}`), write(`r.${id}`)]);
      await write(`s.${id}`);
    },
    { seconds: SECONDS, concurrency: CONCURRENCY },
  );
  await jsm.streams.delete(stream);
  await jsm.streams.delete(`KV_${bucket}`);
  return [
    {
      section: `4 commands (${profile})`,
      name: `raw append + a room create's plan writes (c=${CONCURRENCY})`,
      ...raw,
      note: "baseline of POST /v1/rooms",
    },
  ];
}
