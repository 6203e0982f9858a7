import { Counter, type Registry } from "prom-client";

export type UploadMetric = "created" | "deduplicated" | "digest_mismatch" | "quota_exceeded";
export type BlobDirection = "stored" | "served";

/** What the edge's request metrics cannot tell: dedup hits, refused digests, blob bytes moved. */
export interface BlobMetrics {
  upload(outcome: UploadMetric): void;
  bytes(direction: BlobDirection, n: number): void;
}

export function blobMetrics(registry: Registry): BlobMetrics {
  const uploads = new Counter({
    name: "conclave_blob_uploads_total",
    help: "Blob uploads by outcome: created (201), deduplicated (200), digest_mismatch (400, nothing stored), quota_exceeded (403, nothing stored)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: "conclave_blob_bytes_total",
    help: "Blob bytes stored by uploads and served by downloads (as sent, ranges included)",
    labelNames: ["direction"] as const,
    registers: [registry],
  });
  return {
    upload: (outcome) => uploads.inc({ outcome }),
    bytes: (direction, n) => bytes.inc({ direction }, n),
  };
}
