import { type BareItem, type Item, type Parameters, serializeInnerList, serializeItem } from "structured-headers";
import { componentId, splitComponentId } from "./component-id.ts";
import { type DerivationContext, derivedValue, isDerived } from "./derived-components.ts";
import { coveredField, fieldValue, type HeaderMap } from "./field-components.ts";
import { parseRequestTarget, type RequestTarget } from "./request-target.ts";
import { SignatureError } from "./signature-error.ts";

export { fieldValue, type HeaderMap, type HeaderValue, rawFieldValue } from "./field-components.ts";

/** RFC 9421 §2.5 signature base, shared by the signer and the verifier so both build the same bytes. */

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
      : coveredField(request.headers, name, componentParams);
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
