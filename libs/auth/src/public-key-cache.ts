import type { KeyObject } from "node:crypto";
import { decodeKeyId, publicKeyObject } from "./ed25519-keys.ts";
import { SignatureError } from "./signature-error.ts";

export const DEFAULT_KEY_CACHE_CAPACITY = 10_000;

/**
 * LRU of public KeyObjects by keyid, so a busy signer's key is decoded once
 * rather than on every request. Bounded because keyids arrive on
 * unauthenticated requests and anyone can mint keys: an unbounded map would
 * be a memory exhaustion vector.
 */
export class PublicKeyCache {
  readonly capacity: number;
  // Map iteration order is insertion order: the first entry is the least recently used.
  readonly #entries = new Map<string, { key: KeyObject; tenant?: string }>();

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

  /**
   * The cached KeyObject (now most recently used), or a new one that is not
   * cached yet: the verifier admits it only once a signature under it has
   * verified, so garbage keyids cannot evict the keys of real users for free.
   * Throws SignatureError("bad_keyid").
   */
  resolve(keyid: string): { key: KeyObject; cached: boolean } {
    const hit = this.#entries.get(keyid);
    if (hit !== undefined) {
      this.#entries.delete(keyid);
      this.#entries.set(keyid, hit);
      return { key: hit.key, cached: true };
    }
    const raw = decodeKeyId(keyid);
    try {
      return { key: publicKeyObject(raw), cached: false };
    } catch (cause) {
      throw new SignatureError("bad_keyid", "keyid is not an Ed25519 public key", { cause });
    }
  }

  /** Caches `key` under `keyid`, evicting the least recently used entry past capacity. */
  admit(keyid: string, key: KeyObject): void {
    this.#entries.delete(keyid);
    this.#entries.set(keyid, { key });
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  /**
   * The tenant the allowlist last named for a cached signer: a hint that lets
   * a route's tenant-scoped reads go out with the allowlist read. Never
   * trusted: readInTenant (authenticate.ts) reads again when the entry names another.
   */
  tenantOf(keyid: string): string | undefined {
    return this.#entries.get(keyid)?.tenant;
  }

  /** Remembers the signer's tenant, while its key stays cached (same bound, same eviction). */
  noteTenant(keyid: string, tenant: string): void {
    const entry = this.#entries.get(keyid);
    if (entry) entry.tenant = tenant;
  }

  /** resolve + admit: for callers that trust the keyid already. */
  get(keyid: string): KeyObject {
    const { key, cached } = this.resolve(keyid);
    if (!cached) this.admit(keyid, key);
    return key;
  }
}
