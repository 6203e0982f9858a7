export { BLOB_SCOPES, mayUseBlobs } from "./blob-access.ts";
export { EMPTY_SHA256, objectName } from "./blob-address.ts";
export { blobModule, createBlobModule, UPLOAD_LEASE_MS } from "./blob-module.ts";
export { BlobQuota, type BlobQuotaDeps, type QuotaHold } from "./blob-quota.ts";
export { applyQuotaOp, type BlobQuotaState, currentQuota, MAX_LIVE_UPLOADS } from "./blob-quota-state.ts";
export {
  BLOB_STREAM,
  BlobStore,
  type BlobStoreOptions,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_WRITE_WINDOW,
  type StoredBlob,
} from "./blob-store.ts";
export { receiveUpload, type UploadOutcome, type UploadRequest } from "./blob-upload.ts";
export { DIGEST_MISMATCH } from "./digest-verifier.ts";
