import {
  type BareItem,
  type InnerList,
  type Item,
  isInnerList,
  type Parameters,
  parseDictionary,
  serializeInnerList,
  serializeItem,
} from "structured-headers";
import { componentId, splitComponentId } from "./component-id.ts";
import { type DerivationContext, derivedValue, isDerived } from "./derived-components.ts";
import { parseRequestTarget, type RequestTarget } from "./request-target.ts";
import { SignatureError } from "./signature-error.ts";

/** RFC 9421 §2.5 signature base, shared by the signer and the verifier so both build the same bytes. */

export type HeaderValue = string | readonly string[] | undefined;
/** Header fields by lowercased name. */
export type HeaderMap = Readonly<Record<string, HeaderValue>>;

export interface SignableRequest {
  method: string;
  /** As on the request line: `/path?query`, or an absolute URI. */
  url: string;
  headers: HeaderMap;
  /** For `@scheme` and `@target-uri` when `url` is origin-form (the server knows if it is behind TLS). */
  scheme?: string | undefined;
  /** For `@authority` and `@target-uri` when `url` is origin-form; the Host field when absent. */
  authority?: string | undefined;
}

/** The signature parameters Conclave knows, in the order they are to be serialized. */
export interface SignatureParams {
  created?: number | undefined;
  expires?: number | undefined;
  nonce?: string | undefined;
  alg?: string | undefined;
  keyid?: string | undefined;
  tag?: string | undefined;
}

// RFC 9110 token, lowercased: covered field names are always lowercase (§2.1).
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
// A line feed in a value would let one component forge another line of the base;
// non-ASCII would encode differently on each side. Both are refused.
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

/** The exact bytes that are signed, as an ASCII string. */
export function buildSignatureBase(
  request: SignableRequest,
  components: readonly string[],
  params: SignatureParams | Parameters,
): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  let target: RequestTarget | undefined;
  const ctx: DerivationContext = {
    method: request.method,
    host: () => fieldValue(request.headers, "host"),
    scheme: request.scheme,
    authority: request.authority,
    target: () => {
      target ??= parseRequestTarget(request.url);
      return target;
    },
  };
  for (const id of components) {
    const { name, params: componentParams } = splitComponentId(id);
    const canonical = componentId(name, componentParams);
    if (seen.has(canonical)) {
      throw new SignatureError("malformed_signature_input", `component ${canonical} is covered twice`);
    }
    seen.add(canonical);
    // Value first: it validates the name that serializeItem then quotes.
    const value = isDerived(name)
      ? derivedValue(ctx, name, componentParams)
      : coveredField(request, name, componentParams);
    lines.push(`${serializeItem([name, componentParams])}: ${value}`);
  }
  lines.push(`"@signature-params": ${serializeSignatureParams(components, params)}`);
  return lines.join("\n");
}

/** The `@signature-params` value, which is also the member value in `Signature-Input`. */
export function serializeSignatureParams(components: readonly string[], params: SignatureParams | Parameters): string {
  try {
    const items: Item[] = components.map((id) => {
      const { name, params: componentParams } = splitComponentId(id);
      return [name, componentParams];
    });
    return serializeInnerList([items, toParameters(params)]);
  } catch (cause) {
    throw new SignatureError("malformed_signature_input", "signature parameters cannot be serialized", { cause });
  }
}

function toParameters(params: SignatureParams | Parameters): Parameters {
  if (params instanceof Map) return params;
  const out: Parameters = new Map<string, BareItem>();
  // Own-key order is insertion order for these names: "the order given".
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) out.set(name, value);
  }
  return out;
}

/**
 * A covered header field (§2.1). `;key=` picks one member of a dictionary field
 * (Content-Digest's sha-256, say). `;sf` and `;bs` re-serialize the field
 * (which needs its type, or its separate field lines, which this server does
 * not keep), `;tr` names a trailer and `;req` a response's request: refused.
 */
function coveredField(request: SignableRequest, name: string, params: Parameters): string {
  if (!FIELD_NAME.test(name)) {
    throw new SignatureError("malformed_signature_input", "covered field names are lowercase tokens");
  }
  const value = fieldValue(request.headers, name);
  if (value === undefined) throw new SignatureError("missing_component", `covered field ${name} is absent`);
  if (params.size === 0) return value;
  const key = params.get("key");
  if (typeof key !== "string" || params.size !== 1) {
    throw new SignatureError("unsupported_component", `field ${name}: only the key parameter is supported`);
  }
  return dictionaryMember(name, value, key);
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
  // Own properties only: a covered "constructor" must not find Object.prototype.constructor.
  if (!Object.hasOwn(headers, name)) return undefined;
  const raw = headers[name];
  if (raw === undefined) return undefined;
  const values = typeof raw === "string" ? [raw] : raw;
  if (values.length === 0) return undefined;
  return values.map(trimOws).join(", ");
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
