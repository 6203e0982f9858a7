import { randomUUID } from "node:crypto";
import type { StoreConnection } from "@conclave/store";
import { eventually } from "@conclave/testkit";
import { Kvm } from "@nats-io/kv";
import { CONCURRENCY, SECONDS } from "./bench-options.ts";
import { load } from "./measure.ts";

/**
 * The raw operations a room create needs (issue 16 item 6), at the concurrency of POST /v1/rooms:
 * an append with an expected subject sequence, then the plan's KV writes as applyRoomEvent issues
 * them: the owner's member_rooms entry and its sealed key together (creates: expected revision 0,
 * no read), then the snapshot (a create too). An invite's plan is the same shape; a
 * rekey's has one write fewer.
 */
export async function rawPlanLoad({ js, jsm }: StoreConnection, tag: string, replicas: number) {
  const stream = `bench_cmd_${tag}`;
  const subjects = `bench.cmd.${tag}`;
  await jsm.streams.add({ name: stream, subjects: [`${subjects}.>`], num_replicas: replicas });
  const bucket = `bench_plan_${tag}`;
  const kv = await new Kvm(js).create(bucket, { replicas, history: 1 });
  try {
    // A new R3 stream answers "no responders" until it has elected a leader: wait for both.
    await eventually(() => kv.put("ready", "1"), 30_000);
    await eventually(() => js.publish(`${subjects}.ready`, "1"), 30_000);
    const create = (key: string) => js.publish(`$KV.${bucket}.${key}`, "{}", { expect: { lastSubjectSequence: 0 } });
    return await load(
      async () => {
        const id = randomUUID();
        await js.publish(`${subjects}.${id}`, "{}", { msgID: id, expect: { lastSubjectSequence: 0 } });
        await Promise.all([create(`r.${id}`), create(`k.${id}`)]);
        await create(`s.${id}`);
      },
      { seconds: SECONDS, concurrency: CONCURRENCY },
    );
  } finally {
    await jsm.streams.delete(stream);
    await jsm.streams.delete(`KV_${bucket}`);
  }
}
