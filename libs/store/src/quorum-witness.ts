import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { KvTable } from "./kv-table.ts";

/**
 * Proof that the cluster still had a quorum AFTER a read returned.
 *
 * A leader read can be stale: a survivor that lost its peers, or a deposed
 * leader on the minority side of a partition, keeps answering with old values
 * for 13–20 s (docs/store.md). A write, however, needs a quorum. So a guarded
 * read is "leader read, then a quorum write that was issued after the read
 * returned": if the write commits, the node we talk to was part of a majority
 * after the read; if not, the decision is denied. In the signed-request
 * pipeline the nonce claim is that write; other guarded reads call confirm().
 *
 * Writes are coalesced: every caller waits for the next write that STARTED
 * after its call, so N concurrent guarded reads cost about one write, not N.
 */
export class QuorumWitness {
  private readonly table: KvTable<{ at: number }>;
  private readonly key: string;
  private inflight?: Promise<void>;
  private queued?: Promise<void>;

  constructor(table: KvTable<{ at: number }>, instance = randomUUID()) {
    this.table = table;
    this.key = `w.${instance}`;
  }

  static readonly schema = z.object({ at: z.number() });

  confirm(): Promise<void> {
    if (!this.inflight) return this.start();
    // A write already in flight started before us: it proves nothing about our read.
    if (!this.queued) {
      const after = this.inflight.catch(() => {});
      this.queued = after.then(() => {
        this.queued = undefined;
        return this.start();
      });
    }
    return this.queued;
  }

  private start(): Promise<void> {
    const tracked: Promise<void> = this.table.put(this.key, { at: Date.now() }).then(() => {});
    this.inflight = tracked;
    const clear = () => {
      if (this.inflight === tracked) this.inflight = undefined;
    };
    tracked.then(clear, clear);
    return tracked;
  }
}
