/** `PUT /v1/blobs/{sha256}` answers it; `HEAD` tells the same in its headers. */
export interface BlobRef {
  sha256: string;
  size: number;
}
