import { z } from "zod";
import { bucketName, SUBJECTS } from "./catalogue.ts";
import { withDeadline } from "./deadline.ts";
import type { EventLog } from "./event-log.ts";
import { type Projection, ProjectionWriter } from "./projection.ts";
import { projectionTables } from "./projection-runner.ts";
import { provisionBucket } from "./provision.ts";
import type { Store } from "./store.ts";

export interface TableDifference {
  table: string;
  key: string;
  live: unknown;
  rebuilt: unknown;
}

/**
 * Replays the whole log through a projection into fresh twin buckets
 * (`<bucket>__<variant>`), dropping any previous twin first.
 */
export async function rebuildProjection(
  store: Store,
  log: EventLog,
  projection: Projection,
  variant = "rebuild",
): Promise<number> {
  const jsm = store.conn.jsm;
  for (const key of projection.tables) {
    const stream = `KV_${bucketName(key, variant)}`;
    const exists = await withDeadline(`info ${stream}`, store.opTimeoutMs, () =>
      jsm.streams.info(stream).then(
        () => true,
        (err: { name?: string }) => {
          // Only "no such stream" means absent; any other failure must not pass for it.
          if (err.name === "StreamNotFoundError") return false;
          throw err;
        },
      ),
    );
    if (exists) await withDeadline(`drop ${stream}`, store.opTimeoutMs, () => jsm.streams.delete(stream));
    await provisionBucket(store.conn, key, store.replicas, variant, store.byteLimits.get(key));
  }
  const open = projectionTables(store, variant);
  let applied = 0;
  for await (const event of log.replay(projection.aggregateTypes.map((t) => SUBJECTS.aggregateType(t)))) {
    await projection.apply(event, new ProjectionWriter(event, open));
    applied++;
  }
  return applied;
}

/** Compares a projection's live tables with a rebuild's twins, entry by entry. */
export async function compareProjection(
  store: Store,
  projection: Projection,
  variant = "rebuild",
): Promise<TableDifference[]> {
  const differences: TableDifference[] = [];
  for (const key of projection.tables) {
    const live = store.table(key, z.unknown());
    const rebuilt = store.table(key, z.unknown(), variant);
    const keys = new Set([...(await live.keys()), ...(await rebuilt.keys())]);
    for (const k of [...keys].sort()) {
      const a = (await live.get(k))?.value;
      const b = (await rebuilt.get(k))?.value;
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        differences.push({ table: bucketName(key), key: k, live: a, rebuilt: b });
      }
    }
  }
  return differences;
}
