import { type Parameters, parseItem, serializeParameters } from "structured-headers";
import { SignatureError } from "./signature-error.ts";

/**
 * A covered component as this package passes it around: its name, then its
 * RFC 9421 §2.1 parameters serialized as in Signature-Input, e.g. `@method`,
 * `content-digest`, `@query-param;name="tenant"`. One canonical string per
 * component, so "covered twice" and "is X covered" are string comparisons.
 */
export interface ComponentName {
  name: string;
  params: Parameters;
}

export function componentId(name: string, params: Parameters): string {
  if (name.includes(";")) throw new SignatureError("malformed_signature_input", "a component name contains ';'");
  return params.size === 0 ? name : `${name}${serializeParameters(params)}`;
}

export function splitComponentId(id: string): ComponentName {
  const semi = id.indexOf(";");
  if (semi === -1) return { name: id, params: new Map() };
  try {
    const [, params] = parseItem(`"c"${id.slice(semi)}`);
    return { name: id.slice(0, semi), params };
  } catch (cause) {
    throw new SignatureError("malformed_signature_input", `component ${id} has malformed parameters`, { cause });
  }
}
