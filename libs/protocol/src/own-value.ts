/**
 * The value a record holds under `key` as its own property, else undefined.
 * For records parsed from input (JSON bodies, stored values) and looked up by
 * input: `record[key]` would find Object.prototype's `constructor`,
 * `toString`, `hasOwnProperty`... (issue 15: `tier: "constructor"` broke a
 * tenant). Tables of our own that input names are Maps instead.
 */
export function ownValue<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
