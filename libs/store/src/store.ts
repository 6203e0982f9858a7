import type { ZodType } from "zod";
import { type AssetKey, BUCKETS, type BucketKey, type ByteLimits, bucketName, byteLimits } from "./catalogue.ts";
import { type ConnectionOptions, connectStore, type StoreConnection } from "./connection.ts";
import { withDeadline } from "./deadline.ts";
import { KvTable } from "./kv-table.ts";
import type { StoreObserver } from "./observer.ts";
import { provisionStore } from "./provision.ts";
import { QuorumWitness } from "./quorum-witness.ts";

export interface StoreOptions extends Omit<ConnectionOptions, "opTimeoutMs"> {
  /** Bound of every store operation; a decision that waits longer is denied. */
  opTimeoutMs?: number;
  /** Replicas of every bucket and stream: 3 (or 5) in production, 1 for a single node. */
  replicas: number;
  /** Metrics of store operations (latency, outcome, CAS retries). */
  observer?: StoreObserver;
  /** Byte limits overriding the catalogue's defaults (CONCLAVE_STORE_MAX_BYTES). */
  maxBytes?: ReadonlyMap<AssetKey, number>;
}

export const DEFAULT_OP_TIMEOUT_MS = 2_000;

/** Everything a service needs from JetStream, built from explicit options. */
export class Store {
  readonly conn: StoreConnection;
  readonly opTimeoutMs: number;
  readonly replicas: number;
  readonly witness: QuorumWitness;
  readonly observer: StoreObserver | undefined;
  /** The byte limit of every bucket, stream and object store, applied by provision(). */
  readonly byteLimits: ByteLimits;

  private constructor(conn: StoreConnection, opts: StoreOptions) {
    this.conn = conn;
    this.opTimeoutMs = opts.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
    this.replicas = opts.replicas;
    this.observer = opts.observer;
    this.byteLimits = byteLimits(opts.maxBytes);
    this.witness = new QuorumWitness(this.table("witness", QuorumWitness.schema));
  }

  static async connect(opts: StoreOptions): Promise<Store> {
    const opTimeoutMs = opts.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
    return new Store(await connectStore({ ...opts, opTimeoutMs }), opts);
  }

  /** Creates the catalogue's buckets and streams if missing. */
  provision(): Promise<void> {
    return provisionStore(this.conn, this.replicas, this.byteLimits);
  }

  /** A typed table over a catalogue bucket (or its rebuild twin). */
  table<T>(key: BucketKey, schema: ZodType<T>, variant?: string): KvTable<T> {
    return KvTable.forSpec(
      BUCKETS[key],
      schema,
      { conn: this.conn, opTimeoutMs: this.opTimeoutMs, ...(this.observer ? { observer: this.observer } : {}) },
      bucketName(key, variant),
    );
  }

  /** /readyz: JetStream reachable and answering within the operation timeout. */
  async ready(): Promise<boolean> {
    try {
      await withDeadline("readiness", this.opTimeoutMs, () => this.conn.jsm.getAccountInfo());
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.conn.nc.drain().catch(() => this.conn.nc.close());
  }
}
