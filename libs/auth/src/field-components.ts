import {
  type InnerList,
  type Item,
  isInnerList,
  type Parameters,
  parseDictionary,
  parseItem,
  parseList,
  serializeByteSequence,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  serializeList,
} from "structured-headers";
import { SignatureError } from "./signature-error.ts";

/** RFC 9421 §2.1: the values of covered header fields, with their parameters. */

export type HeaderValue = string | readonly string[] | undefined;
/** Header fields by lowercased name; an array holds separate field lines. */
export type HeaderMap = Readonly<Record<string, HeaderValue>>;

// RFC 9110 token, lowercased: covered field names are always lowercase (§2.1).
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
// A line feed in a value would let one component forge another line of the base;
// non-ASCII would encode differently on each side. Both are refused.
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

type StructuredType = "dictionary" | "list" | "item";
// `;sf` re-serializes a field by its structured type, so the type must be known
// (§2.1.1): the registered structured fields a request may carry.
const STRUCTURED_FIELDS: Readonly<Record<string, StructuredType>> = {
  "accept-signature": "dictionary",
  "cache-status": "list",
  "client-cert": "item",
  "client-cert-chain": "list",
  "content-digest": "dictionary",
  priority: "dictionary",
  "proxy-status": "list",
  "repr-digest": "dictionary",
  signature: "dictionary",
  "signature-input": "dictionary",
  "want-content-digest": "dictionary",
  "want-repr-digest": "dictionary",
};

/**
 * A covered header field. Parameters: `;sf` (re-serialized as its structured
 * type, known fields only), `;key="m"` (one member of a dictionary field),
 * `;bs` (each field line as a byte sequence: Node joins repeated lines of most
 * fields, so a signer that sent several lines does not verify — fails closed).
 * `;tr` names a trailer (never read) and `;req` a response's request: refused.
 */
export function coveredField(headers: HeaderMap, name: string, params: Parameters): string {
  if (!FIELD_NAME.test(name)) {
    throw new SignatureError("malformed_signature_input", "covered field names are lowercase tokens");
  }
  const value = fieldValue(headers, name);
  if (value === undefined) throw new SignatureError("missing_component", `covered field ${name} is absent`);
  if (params.size === 0) return value;
  const [param, ...others] = [...params.keys()];
  if (others.length > 0) throw new SignatureError("unsupported_component", `field ${name}: one parameter at most`);
  switch (param) {
    case "sf":
      return reserialized(name, value);
    case "key": {
      const key = params.get("key");
      if (typeof key !== "string") throw new SignatureError("malformed_signature_input", "key must be a string");
      return dictionaryMember(name, value, key);
    }
    case "bs":
      return fieldLines(headers, name)
        .map((line) => serializeByteSequence(new Uint8Array(Buffer.from(line, "ascii")).buffer))
        .join(", ");
    default:
      throw new SignatureError("unsupported_component", `field ${name}: parameter ${param} is not supported`);
  }
}

function reserialized(name: string, value: string): string {
  const type = Object.hasOwn(STRUCTURED_FIELDS, name) ? STRUCTURED_FIELDS[name] : undefined;
  if (type === undefined) throw new SignatureError("unsupported_component", `${name} is not a known structured field`);
  try {
    if (type === "dictionary") return serializeDictionary(parseDictionary(value));
    if (type === "list") return serializeList(parseList(value));
    return serializeItem(parseItem(value));
  } catch (cause) {
    throw new SignatureError("invalid_component_value", `field ${name} is not a valid ${type}`, { cause });
  }
}

function dictionaryMember(name: string, value: string, key: string): string {
  let member: Item | InnerList | undefined;
  try {
    member = parseDictionary(value).get(key);
  } catch (cause) {
    throw new SignatureError("invalid_component_value", `field ${name} is not a dictionary`, { cause });
  }
  if (member === undefined) throw new SignatureError("missing_component", `field ${name} has no member ${key}`);
  return isInnerList(member) ? serializeInnerList(member) : serializeItem(member);
}

/** §2.1: each value trimmed, several values joined with ", "; undefined when the field is absent. */
export function fieldValue(headers: HeaderMap, name: string): string | undefined {
  const joined = rawFieldValue(headers, name);
  if (joined !== undefined && !FIELD_VALUE.test(joined)) {
    throw new SignatureError("invalid_component_value", `field ${name} has characters outside visible ASCII`);
  }
  return joined;
}

/** Like fieldValue, without the character check (for fields a stricter parser reads next). */
export function rawFieldValue(headers: HeaderMap, name: string): string | undefined {
  const lines = fieldLines(headers, name);
  return lines.length === 0 ? undefined : lines.join(", ");
}

function fieldLines(headers: HeaderMap, name: string): string[] {
  // Own properties only: a covered "constructor" must not find Object.prototype.constructor.
  if (!Object.hasOwn(headers, name)) return [];
  const raw = headers[name];
  if (raw === undefined) return [];
  return (typeof raw === "string" ? [raw] : raw).map(trimOws);
}

// Only SP and HTAB are optional whitespace; String#trim would also eat \u00a0,
// which Node yields for a raw 0xA0 byte. A loop, not a regex: no backtracking.
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
