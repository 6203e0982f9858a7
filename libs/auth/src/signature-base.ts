import { type BareItem, type Parameters, serializeInnerList, serializeString } from "structured-headers";
import { normalizeAuthority, parseRequestTarget, type RequestTarget } from "./request-target.ts";
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

export const DERIVED_COMPONENTS = [
  "@method",
  "@target-uri",
  "@authority",
  "@scheme",
  "@request-target",
  "@path",
  "@query",
] as const;

const DERIVED = new Set<string>(DERIVED_COMPONENTS);
// RFC 9110 token, lowercased: covered field names are always lowercase (§2.1).
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
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
  const lazyTarget = (): RequestTarget => {
    target ??= parseRequestTarget(request.url);
    return target;
  };
  for (const component of components) {
    if (seen.has(component)) {
      throw new SignatureError("malformed_signature_input", `component ${component} is covered twice`);
    }
    seen.add(component);
    // Value first: it validates the name that serializeString then quotes.
    const value = componentValue(request, component, lazyTarget);
    lines.push(`${serializeString(component)}: ${value}`);
  }
  lines.push(`"@signature-params": ${serializeSignatureParams(components, params)}`);
  return lines.join("\n");
}

/** The `@signature-params` value, which is also the member value in `Signature-Input`. */
export function serializeSignatureParams(components: readonly string[], params: SignatureParams | Parameters): string {
  try {
    return serializeInnerList([components.map((name) => [name, new Map()]), toParameters(params)]);
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

function componentValue(request: SignableRequest, component: string, target: () => RequestTarget): string {
  if (component === "@signature-params") {
    throw new SignatureError("malformed_signature_input", "@signature-params cannot be a covered component");
  }
  if (component.startsWith("@")) {
    if (!DERIVED.has(component)) throw new SignatureError("unsupported_component", `unsupported ${component}`);
    return derivedValue(request, component, target);
  }
  if (!FIELD_NAME.test(component)) {
    throw new SignatureError("malformed_signature_input", "covered field names are lowercase tokens");
  }
  const value = fieldValue(request.headers, component);
  if (value === undefined) throw new SignatureError("missing_component", `covered field ${component} is absent`);
  return value;
}

function derivedValue(request: SignableRequest, component: string, target: () => RequestTarget): string {
  switch (component) {
    case "@method":
      if (!METHOD.test(request.method)) throw new SignatureError("invalid_component_value", "method is not a token");
      return request.method;
    case "@path":
      return target().path;
    case "@query":
      return target().query;
    case "@request-target":
      return target().requestTarget;
    case "@authority":
      return authority(request, target());
    case "@scheme":
      return scheme(request, target());
    default: {
      // @target-uri: the absolute form as received, or rebuilt from the origin-form pieces.
      const t = target();
      if (t.scheme !== undefined) return t.requestTarget;
      return `${scheme(request, t)}://${authority(request, t)}${t.requestTarget}`;
    }
  }
}

function scheme(request: SignableRequest, target: RequestTarget): string {
  const value = target.scheme ?? request.scheme?.toLowerCase();
  if (value === undefined) throw new SignatureError("missing_component", "the request scheme is unknown");
  if (!/^[a-z][a-z0-9+.-]*$/.test(value)) throw new SignatureError("invalid_component_value", "bad scheme");
  return value;
}

function authority(request: SignableRequest, target: RequestTarget): string {
  if (target.authority !== undefined) return target.authority;
  const host = fieldValue(request.headers, "host");
  if (host === undefined || host === "") throw new SignatureError("missing_component", "no authority: Host is absent");
  return normalizeAuthority(host, target.scheme ?? request.scheme?.toLowerCase());
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
