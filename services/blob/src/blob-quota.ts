import { randomUUID } from "node:crypto";
import { ApiError } from "@conclave/protocol";
import type { KvTable, Store } from "@conclave/store";
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

/**
 * Per-tenant blob quotas (bytes and count) shared by every blob replica: an
 * upload reserves its worst-case size and one blob by CAS on the tenant's one
 * value (KvTable.mutate), so replicas racing for the last room admit no more
 * than the quota; the reservation becomes usage at commit.
 */
export class BlobQuota {
  private readonly deps: BlobQuotaDeps;
  private readonly table: KvTable<BlobQuotaState>;

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
    await this.table.mutate(key(tenant), (current) => {
      const out = applyQuotaOp(current, op, this.deps.now());
      result = out.result;
      return out.next;
    });
    return result;
  }
}
