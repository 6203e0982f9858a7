import { z } from "zod";
import type { BucketKey } from "./catalogue.ts";
import type { StoredEvent } from "./event-log.ts";
import type { KvTable } from "./kv-table.ts";

/**
 * A projected KV entry remembers the sequence of the event it reflects, so
 * applying an event twice (redelivery after a crash) changes nothing.
 */
export function projected<T extends z.ZodType>(data: T) {
  return z.object({ seq: z.number().int().positive(), data });
}

export type Projected<T> = { seq: number; data: T };

/** Opens a projection's table (records wrapped by `projected`): the live one, or a rebuild's twin. */
export type TableOpener = <T>(key: BucketKey, schema: z.ZodType<T>) => KvTable<Projected<T>>;

/**
 * Writes of one event into read models. Every write is guarded by the event
 * sequence: an entry already at (or past) this event is left alone.
 */
export class ProjectionWriter {
  readonly event: StoredEvent;
  private readonly open: TableOpener;

  constructor(event: StoredEvent, open: TableOpener) {
    this.event = event;
    this.open = open;
  }

  async get<T>(key: BucketKey, schema: z.ZodType<T>, k: string): Promise<T | undefined> {
    return (await this.entry(key, schema, k))?.data;
  }

  /** The projected entry with the sequence of the event it reflects. */
  async entry<T>(key: BucketKey, schema: z.ZodType<T>, k: string): Promise<Projected<T> | undefined> {
    return (await this.open(key, schema).get(k))?.value;
  }

  async put<T>(key: BucketKey, schema: z.ZodType<T>, k: string, data: T): Promise<void> {
    const seq = this.event.seq;
    await this.open(key, schema).mutate(k, (current) => (current && current.seq >= seq ? undefined : { seq, data }));
  }

  async delete(key: BucketKey, k: string): Promise<void> {
    const table = this.open(key, z.unknown());
    const current = await table.get(k);
    if (!current || current.value.seq >= this.event.seq) return;
    await table.delete(k, { revision: current.revision });
  }
}

/**
 * A read model fed by the event log. `apply` must be a pure function of the
 * event and the tables' current contents, so that a rebuild from the log
 * reproduces the live state exactly.
 */
export interface Projection {
  /** Durable consumer name: the projection's checkpoint lives in it. */
  name: string;
  /** Aggregate types whose events this projection reads. */
  aggregateTypes: string[];
  /** Tables it writes (rebuilt and compared as a unit). */
  tables: BucketKey[];
  apply(event: StoredEvent, tx: ProjectionWriter): Promise<void>;
}
