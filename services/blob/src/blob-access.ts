import type { Principal } from "@conclave/auth";

// Who may do what with blobs. Blobs belong to a tenant, not to a user: any
// member of the tenant holding the scope reads every blob of the tenant, which
// is what content addressing implies (knowing the hash is the capability).

export const BLOB_SCOPES = { read: "blobs:read", write: "blobs:write" } as const;

export type BlobAction = keyof typeof BLOB_SCOPES;

/** Admins may always; members need the action's scope (granted by default on user creation). */
export function mayUseBlobs(principal: Principal, action: BlobAction): boolean {
  if (principal.status !== "active") return false;
  return principal.role === "admin" || principal.scopes.includes(BLOB_SCOPES[action]);
}
