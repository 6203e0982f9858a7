import { randomUUID } from "node:crypto";
import { ApiError } from "@conclave/protocol";
import type { Entry, KvTable, Store } from "@conclave/store";
import {
  applyQuotaOp,
  type BlobQuotaLimits,
  type BlobQuotaState,
  blobQuotaState,
  type QuotaOp,
  type QuotaResult,
} from "./blob-quota-state.ts";

export interface BlobQuotaDeps {
  store: Store;
  limits: BlobQuotaLimits;
  /** How long an upload may hold its reservation (longer than the edge's request timeout). */
  leaseMs: number;
  now: () => number;
}

/** An upload's hold on its tenant's quota: commit it once stored, release it when surely not. */
export interface QuotaHold {
  tenant: string;
  id: string;
}

const key = (tenant: string) => `quota.${tenant}`;
/** Tenants whose last value this replica remembers (a bound on memory, not on correctness). */
const KNOWN_TENANTS = 1_024;

/**
 * Per-tenant blob quotas (bytes and count) shared by every blob replica: an
 * upload reserves its worst-case size and one blob by CAS on the tenant's one
 * value (KvTable.mutate), so replicas racing for the last room admit no more
 * than the quota; the reservation becomes usage at commit.
 *
 * Each operation starts from the tenant's value as this replica last wrote it,
 * without reading it first (KvTable.mutate's `known`): the CAS on its revision
 * proves it current, and a value another replica changed since is read again.
 * An upload's reserve and commit cost one round trip each instead of two.
 */
export class BlobQuota {
  private readonly deps: BlobQuotaDeps;
  private readonly table: KvTable<BlobQuotaState>;
  private readonly known = new Map<string, Entry<BlobQuotaState>>();

  constructor(deps: BlobQuotaDeps) {
    this.deps = deps;
    this.table = deps.store.table("blobQuota", blobQuotaState);
  }

  /**
   * Holds `bytes` and one blob, or refuses: 403 `forbidden`, reason
   * `blob_quota`, with the numbers. 403, not 429: nothing frees room with
   * time (blobs are kept), so a retry cannot succeed until an operator raises
   * the quota; not 413: the request may be small and the tenant full.
   * Store failures throw (→ 503, fail closed).
   */
  async reserve(tenant: string, bytes: number): Promise<QuotaHold> {
    const id = randomUUID();
    const result = await this.apply(tenant, {
      kind: "reserve",
      id,
      bytes,
      limits: this.deps.limits,
      leaseMs: this.deps.leaseMs,
    });
    if (!result.ok) {
      if (result.why === "too_many_in_flight") {
        throw new ApiError("overloaded", "too many uploads in flight for this tenant", {
          headers: { "retry-after": "1" },
        });
      }
      const what = result.why === "bytes" ? "bytes" : "blobs";
      throw new ApiError("forbidden", `blob quota exceeded: ${what} ${result.total}/${result.limit}`, {
        reason: "blob_quota",
      });
    }
    return { tenant, id };
  }

  async commit(hold: QuotaHold, bytes: number): Promise<void> {
    await this.apply(hold.tenant, { kind: "commit", id: hold.id, bytes });
  }

  async release(hold: QuotaHold): Promise<void> {
    await this.apply(hold.tenant, { kind: "release", id: hold.id });
  }

  private async apply(tenant: string, op: QuotaOp): Promise<QuotaResult> {
    let result: QuotaResult = { ok: true };
    const entry = await this.table
      .mutate(
        key(tenant),
        (current) => {
          const out = applyQuotaOp(current, op, this.deps.now());
          result = out.result;
          return out.next;
        },
        undefined,
        this.known.get(tenant),
      )
      .catch((err: unknown) => {
        this.known.delete(tenant); // an outcome unknown: read the value next time
        throw err;
      });
    this.remember(tenant, entry);
    return result;
  }

  private remember(tenant: string, entry: Entry<BlobQuotaState> | undefined): void {
    const had = this.known.get(tenant);
    if (entry && had && had.revision > entry.revision) return; // a concurrent operation wrote later
    this.known.delete(tenant); // re-inserted last: the map's order is least recently used first
    if (!entry) return;
    this.known.set(tenant, entry);
    if (this.known.size > KNOWN_TENANTS) this.known.delete(this.known.keys().next().value as string);
  }
}
