import type { Principal } from "@conclave/auth";
import { type UserRecord, userRecord } from "@conclave/protocol";
import { type KvTable, type Projected, projected, type Store } from "@conclave/store";

/** The users projection's table, as every service reads it for authentication. */
export function usersTable(store: Store): KvTable<Projected<UserRecord>> {
  return store.table("users", projected(userRecord));
}

export function toPrincipal(user: UserRecord): Principal {
  return {
    signPub: user.sign_pub,
    kexPub: user.kex_pub,
    tenant: user.tenant,
    role: user.role,
    scopes: user.scopes,
    status: user.status,
    name: user.name,
    record: user,
  };
}

// Signers whose allowlist entry's decoding is remembered (as many as the public key cache holds).
const MEMO_USERS = 10_000;

/**
 * Allowlist lookup for the auth pipeline: a leader read of the users table.
 * A store failure throws (→ 503 deny); absence resolves undefined (→ 401).
 * Its freshness witness is the nonce claim that follows it. Read on every
 * signed request: identical stored bytes are decoded once (KvTable.memoized),
 * while the read itself, and so the decision, is made every time.
 */
export function principalLookup(store: Store): (signPub: string) => Promise<Principal | undefined> {
  const users = usersTable(store).memoized(MEMO_USERS);
  return async (signPub) => {
    const entry = await users.get(signPub);
    return entry ? toPrincipal(entry.value.data) : undefined;
  };
}
