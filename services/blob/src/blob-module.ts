import type { ServiceModule } from "@conclave/runtime";
import { blobMetrics } from "./blob-metrics.ts";
import { registerBlobRoutes } from "./blob-routes.ts";
import { BlobStore, type BlobStoreOptions } from "./blob-store.ts";

/** The blob service as a module, with its store options (tests and benchmarks vary them). */
export function createBlobModule(options: BlobStoreOptions = {}): ServiceModule {
  return {
    name: "blob",
    eventSchemas: {},
    projections: [],
    async register(ctx) {
      const blobs = await BlobStore.open(ctx.store, options);
      registerBlobRoutes(ctx.edge.app, blobs, blobMetrics(ctx.edge.registry));
    },
  };
}

/** The blob service: content-addressed, per-tenant blobs in the replicated Object Store. */
export const blobModule: ServiceModule = createBlobModule();
