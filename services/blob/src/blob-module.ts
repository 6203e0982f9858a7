import type { ServiceModule } from "@conclave/runtime";
import { blobMetrics } from "./blob-metrics.ts";
import { BlobQuota } from "./blob-quota.ts";
import { registerBlobRoutes } from "./blob-routes.ts";
import { BlobStore, type BlobStoreOptions } from "./blob-store.ts";

/** An upload's quota reservation outlives the edge's 60 s request timeout with room to spare. */
export const UPLOAD_LEASE_MS = 5 * 60_000;

/** The blob service as a module, with its store options (tests and benchmarks vary them). */
export function createBlobModule(options: BlobStoreOptions = {}): ServiceModule {
  return {
    name: "blob",
    eventSchemas: {},
    projections: [],
    async register(ctx) {
      const blobs = await BlobStore.open(ctx.store, options);
      const quota = new BlobQuota({
        store: ctx.store,
        limits: { bytes: ctx.env.CONCLAVE_BLOB_QUOTA_BYTES, count: ctx.env.CONCLAVE_BLOB_QUOTA_COUNT },
        leaseMs: UPLOAD_LEASE_MS,
        now: Date.now,
      });
      registerBlobRoutes(ctx.edge.app, {
        blobs,
        quota,
        metrics: blobMetrics(ctx.edge.registry),
        ceilingBytes: ctx.env.CONCLAVE_BLOB_BODY_BYTES,
      });
    },
  };
}

/** The blob service: content-addressed, per-tenant blobs in the replicated Object Store. */
export const blobModule: ServiceModule = createBlobModule();
