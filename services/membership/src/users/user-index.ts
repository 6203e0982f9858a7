import { publicKey32 } from "@conclave/protocol";
import type { KvTable, Projected, ProjectionWriter } from "@conclave/store";
import { z } from "zod";

// Users by tenant, for listings (docs/store.md, "Listings"): each tenant's users, and every
// tenant's (scope `_all`, never a tenant id: those start with a letter or digit), in the order they
// were registered, as numbered chunks of CHUNK keys in conclave_user_index. A page reads the head
// and the one or two chunks it spans, each a literal-key leader get: O(page), whatever the tenant
// or the table holds. (Paging the keys `<tenant>.<sign_pub>` with a wildcard `next_by_subj` cost
// the server a walk over every key of the tenant per get: 80 ms a page at 10^3 users, 278 at 10^5.)

export const CHUNK = 128;
export const ALL_TENANTS = "_all";

export const userIndexHead = z.object({ chunk: z.number().int().nonnegative(), count: z.number().int() }).strict();
export const userIndexChunk = z.object({ users: z.array(publicKey32).max(CHUNK) }).strict();
/** What the index bucket holds: heads and chunks. */
export const userIndexEntry = z.union([userIndexHead, userIndexChunk]);
type Entry = z.infer<typeof userIndexEntry>;

const headKey = (scope: string) => `${scope}.head`;
export const chunkKey = (scope: string, n: number) => `${scope}.${n}`;
/** A listing's scope: one tenant's users, or every tenant's. */
export const userIndexScope = (tenant?: string) => tenant ?? ALL_TENANTS;

/**
 * Appends a new user to its tenant's and to every tenant's chunks. Every write is guarded by the
 * event's sequence (ProjectionWriter), so a redelivered `user.added` computes the same writes and
 * they change nothing.
 */
export async function appendToUserIndex(tx: ProjectionWriter, tenant: string, signPub: string): Promise<void> {
  // The two scopes are independent keys: written side by side (the projection is strictly ordered,
  // so each costs one user's round trips, not two). Within a scope the chunk goes before the head,
  // so a crash between them leaves a head that never points past what its chunks hold.
  await Promise.all([tenant, ALL_TENANTS].map((scope) => appendToScope(tx, scope, signPub)));
}

async function appendToScope(tx: ProjectionWriter, scope: string, signPub: string): Promise<void> {
  const written = await tx.entry("userIndex", userIndexHead, headKey(scope));
  // The head is written last: at this event already, the scope is done (a redelivery after a crash
  // before the user's entry). Recomputing from it would put the user in a second chunk at a boundary.
  if (written && written.seq >= tx.event.seq) return;
  const head = written?.data ?? { chunk: 0, count: 0 };
  const at = head.count < CHUNK ? head : { chunk: head.chunk + 1, count: 0 };
  const chunk = (await tx.get("userIndex", userIndexChunk, chunkKey(scope, at.chunk)))?.users ?? [];
  if (!chunk.includes(signPub)) {
    await tx.put("userIndex", userIndexChunk, chunkKey(scope, at.chunk), { users: [...chunk, signPub] });
  }
  await tx.put("userIndex", userIndexHead, headKey(scope), { chunk: at.chunk, count: at.count + 1 });
}

export interface IndexPosition {
  chunk: number;
  offset: number;
}

/** A page of sign_pubs of a scope from `from`, with where the next page starts when more follow. */
export async function readUserIndex(
  index: KvTable<Projected<Entry>>,
  scope: string,
  from: IndexPosition,
  limit: number,
): Promise<{ signPubs: string[]; next?: IndexPosition }> {
  const head = (await index.get(headKey(scope)))?.value.data;
  if (!head || !("chunk" in head)) return { signPubs: [] };
  const signPubs: string[] = [];
  let { chunk, offset } = from;
  while (chunk <= head.chunk) {
    const entry = (await index.get(chunkKey(scope, chunk)))?.value.data;
    const users = entry && "users" in entry ? entry.users : [];
    const taken = users.slice(offset, offset + limit - signPubs.length);
    signPubs.push(...taken);
    offset += taken.length;
    if (signPubs.length === limit) {
      const more = offset < users.length || chunk < head.chunk;
      return more ? { signPubs, next: { chunk, offset } } : { signPubs };
    }
    chunk++;
    offset = 0;
  }
  return { signPubs };
}
