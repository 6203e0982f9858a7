/**
 * The decoded value of each key's last read, for a table read on every
 * request (the users allowlist: every signed request reads its signer's
 * entry). A read whose stored bytes are exactly the bytes decoded last time
 * for that key gets that value back instead of JSON parsing and schema
 * validation again (~35 µs of the ~1.9 ms of CPU a signed GET costs: issue 16).
 *
 * It is not a cache of what is stored: the caller reads the leader first,
 * every time, and only the decoding of identical bytes is skipped, so a
 * changed entry (a revocation) is decoded and seen at once. Values are
 * deep-frozen: one request cannot change what the next one is given.
 * Bounded: at most `capacity` keys, the least recently read goes first.
 */
export class DecodeMemo<T> {
  private readonly entries = new Map<string, { bytes: Buffer; value: T }>();
  private readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    this.capacity = capacity;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value `decode` gives for `data`, decoded now unless `data` is the very bytes last decoded for `key`. */
  decode(key: string, data: Uint8Array, decode: (data: Uint8Array) => T): T {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const known = this.entries.get(key);
    if (known?.bytes.equals(bytes)) {
      this.entries.delete(key);
      this.entries.set(key, known);
      return known.value;
    }
    // A value that fails its schema throws here and is never remembered.
    const value = deepFreeze(decode(data));
    this.entries.delete(key);
    // Copied: the message's buffer may be a view of a larger one the client reuses.
    this.entries.set(key, { bytes: Buffer.from(bytes), value });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
