import { createHash } from "node:crypto";

/** What the guard needs of the nonces bucket: an atomic create (libs/store KvTable). */
export interface NonceTable {
  create(key: string, value: NonceClaim): Promise<number>;
}

export interface NonceClaim {
  /** When it was claimed (ms): the bucket's max age removes it after the replay window. */
  at: number;
}

export type NonceOutcome = "claimed" | "replay";

/**
 * Raw client strings never become KV keys: the key is SHA-256(keyid ‖ 0x00 ‖ nonce).
 * The separator keeps ("ab","c") and ("a","bc") apart.
 */
export function nonceKey(keyid: string, nonce: string): string {
  return createHash("sha256").update(keyid).update("\u0000").update(nonce).digest("hex");
}

/**
 * Claims a (keyid, nonce) pair cluster-wide with an atomic create: first sight
 * wins on any node. A lost create (the key exists) is a replay. Any other
 * failure propagates — the caller denies (fail closed). The create carries a
 * fresh msg id: deriving it from the nonce would let the stream's de-duplication
 * answer a replay with "duplicate, OK".
 */
export async function claimNonce(table: NonceTable, keyid: string, nonce: string, now: number): Promise<NonceOutcome> {
  try {
    await table.create(nonceKey(keyid, nonce), { at: now });
    return "claimed";
  } catch (err) {
    if ((err as Error).name === "ConflictError") return "replay";
    throw err;
  }
}
