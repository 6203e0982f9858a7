import { z } from "zod";
import type { BucketKey } from "./catalogue.ts";
import { backoffMs } from "./deadline.ts";
import { ConflictError } from "./errors.ts";
import type { StoredEvent } from "./event-log.ts";
import type { KvTable, LastWrite } from "./kv-table.ts";

const wrap = <T extends z.ZodType>(data: T) => z.object({ seq: z.number().int().positive(), data });
type ProjectedSchema<T extends z.ZodType> = ReturnType<typeof wrap<T>>;
// One wrapper per record schema: tables are opened per event (ProjectionWriter), and zod compiles
// a new object schema on its first parse (measured: ~12 % of a replica's CPU under POST /v1/rooms).
const wrappers = new WeakMap<z.ZodType, z.ZodType>();
// A delete reads only the last write's sequence: any record will do.
const ANY_RECORD = z.unknown();

/**
 * A projected KV entry remembers the sequence of the event it reflects, so
 * applying an event twice (redelivery after a crash) changes nothing.
 */
export function projected<T extends z.ZodType>(data: T): ProjectedSchema<T> {
  const known = wrappers.get(data);
  if (known) return known as ProjectedSchema<T>;
  const made = wrap(data);
  wrappers.set(data, made);
  return made;
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

  /**
   * Writes `data` unless the key's last write (a value, or a delete marker) is at or past this event.
   * `known` is the key's revision as the plan already knows it (NEW_KEY: a key it knows to be absent,
   * e.g. a member the state before the event does not have): the write is tried there first, with no
   * read. It lands only if the key is still there, so nothing at or past this event is overwritten;
   * when the key has moved (a wrong guess, or an earlier attempt of this event), the guarded path decides.
   */
  async put<T>(key: BucketKey, schema: z.ZodType<T>, k: string, data: T, known?: number): Promise<void> {
    const table = this.open(key, schema);
    const write = (revision: number) => table.update(k, { seq: this.event.seq, data }, revision);
    if (known !== undefined && (await landed(write(known)))) return;
    await this.guarded(table, k, write);
  }

  /**
   * Deletes the key unless its last write is at or past this event. The KV delete marker
   * carries the event's sequence (EVENT_SEQ_HEADER): a plain marker has none of ours, so a
   * stale put (an older event applied late) would bring the key back.
   */
  async delete(key: BucketKey, k: string): Promise<void> {
    const table = this.open(key, ANY_RECORD);
    const headers = { [EVENT_SEQ_HEADER]: String(this.event.seq) };
    await this.guarded(table, k, (revision) => table.delete(k, { revision, headers }));
  }

  /** Runs `write` at the revision read, unless that write reflects this event or a later one; CAS-retried. */
  private async guarded<T>(
    table: KvTable<Projected<T>>,
    k: string,
    write: (revision: number) => Promise<unknown>,
  ): Promise<void> {
    for (let attempt = 0; attempt < GUARDED_ATTEMPTS; attempt++) {
      const last = await table.lastWrite(k);
      if (last && seqOf(last) >= this.event.seq) return;
      try {
        await write(last?.revision ?? 0);
        return;
      } catch (err) {
        // Another writer came first: read again (an outcome-unknown write of ours shows as at this event).
        if (!(err instanceof ConflictError)) throw err;
        await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      }
    }
    throw new ConflictError(`${table.bucket}/${k}: still contended after ${GUARDED_ATTEMPTS} attempts`);
  }
}

/** `known` revision of a key the plan knows is not there (ProjectionWriter.put). */
export const NEW_KEY = 0;

/** True when the write landed, false when the key was not at the revision it expected. */
async function landed(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (err instanceof ConflictError) return false;
    throw err;
  }
}

/** Header on a projection's KV delete markers: the sequence of the event that deleted the key. */
export const EVENT_SEQ_HEADER = "Conclave-Event-Seq";
const GUARDED_ATTEMPTS = 8;

/** The event sequence a key's last write reflects; a delete marker without ours (older versions) counts as 0. */
function seqOf(last: LastWrite<Projected<unknown>>): number {
  if (!last.deleted) return last.value.seq;
  const seq = Number(last.header(EVENT_SEQ_HEADER) ?? 0);
  return Number.isSafeInteger(seq) ? seq : 0;
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
