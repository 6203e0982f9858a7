import type { KeyFile } from "@conclave/auth";
import type { UserRecord } from "@conclave/protocol";

/** The allowlist entry of a test identity, as the users table holds it (unit tests of the callout). */
export const userRecordOf = (id: KeyFile, status: UserRecord["status"] = "active"): UserRecord => ({
  sign_pub: id.signPublicKey,
  kex_pub: id.kexPublicKey,
  tenant: id.tenant,
  role: "member",
  scopes: [],
  status,
  created_at: "2026-12-01T00:00:00.000Z",
});
