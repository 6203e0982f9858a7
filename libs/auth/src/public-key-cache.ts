import type { KeyObject } from "node:crypto";
import { decodeKeyId, publicKeyObject } from "./ed25519-keys.ts";
import { SignatureError } from "./signature-error.ts";

export const DEFAULT_KEY_CACHE_CAPACITY = 10_000;

/**
 * LRU of public KeyObjects by keyid. Building a KeyObject from JWK costs about
 * as much as the verification itself (verifying with a cached one measured ~2x
 * faster). Bounded because keyids come from unauthenticated requests: anyone
 * can mint keys, and an unbounded map would be a memory exhaustion vector.
 */
export class PublicKeyCache {
  readonly capacity: number;
  // Map iteration order is insertion order: the first entry is the least recently used.
  readonly #entries = new Map<string, KeyObject>();

  constructor(capacity: number = DEFAULT_KEY_CACHE_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    this.capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(keyid: string): boolean {
    return this.#entries.has(keyid);
  }

  /** The KeyObject for `keyid`, built on a miss; throws SignatureError("bad_keyid"). */
  get(keyid: string): KeyObject {
    const hit = this.#entries.get(keyid);
    if (hit !== undefined) {
      this.#entries.delete(keyid);
      this.#entries.set(keyid, hit);
      return hit;
    }
    const raw = decodeKeyId(keyid);
    let key: KeyObject;
    try {
      key = publicKeyObject(raw);
    } catch (cause) {
      throw new SignatureError("bad_keyid", "keyid is not an Ed25519 public key", { cause });
    }
    this.#entries.set(keyid, key);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return key;
  }
}
