import {
  type BareItem,
  type Dictionary,
  DisplayString,
  type InnerList,
  type Item,
  isInnerList,
  type Parameters,
  parseDictionary,
} from "structured-headers";
import { componentId } from "./component-id.ts";
import { SignatureError, type SignatureErrorReason } from "./signature-error.ts";

/**
 * Parses the `Signature-Input` and `Signature` fields (RFC 9421 §4, RFC 8941
 * dictionaries). These arrive before anyone is authenticated, so every limit
 * is checked before any work proportional to the input, and every failure is
 * a SignatureError: a parser exception must never become a 500.
 */

export const MAX_SIGNATURE_HEADER_LENGTH = 8 * 1024;
export const MAX_SIGNATURE_LABELS = 8;
export const MAX_COVERED_COMPONENTS = 32;

export interface SignatureInput {
  label: string;
  /** Covered component identifiers (component-id.ts: `name;params`), in signed order. */
  components: readonly string[];
  /** Signature parameters in received order: re-serialized into `@signature-params`. */
  params: Parameters;
}

export interface ParsedSignatures {
  /** In header order: the verifier picks the first that covers its required components. */
  inputs: readonly SignatureInput[];
  signatures: ReadonlyMap<string, Uint8Array>;
}

export function parseSignatureHeaders(
  signatureInput: string | undefined,
  signature: string | undefined,
): ParsedSignatures {
  if (signatureInput === undefined && signature === undefined) {
    throw new SignatureError("missing_signature", "the request is not signed");
  }
  if (signatureInput === undefined) throw new SignatureError("malformed_signature_input", "Signature-Input is absent");
  if (signature === undefined) throw new SignatureError("malformed_signature", "Signature is absent");
  return { inputs: parseSignatureInput(signatureInput), signatures: parseSignature(signature) };
}

export function parseSignatureInput(header: string): SignatureInput[] {
  const dictionary = parseCapped(header, "malformed_signature_input", "Signature-Input");
  const inputs: SignatureInput[] = [];
  for (const [label, member] of dictionary) {
    if (!isInnerList(member)) {
      throw new SignatureError("malformed_signature_input", `Signature-Input ${label} is not an inner list`);
    }
    inputs.push({ label, components: componentsOf(label, member), params: paramsOf(label, member[1]) });
  }
  return inputs;
}

export function parseSignature(header: string): Map<string, Uint8Array> {
  const dictionary = parseCapped(header, "malformed_signature", "Signature");
  const signatures = new Map<string, Uint8Array>();
  for (const [label, member] of dictionary) {
    if (isInnerList(member) || !(member[0] instanceof ArrayBuffer) || member[1].size !== 0) {
      throw new SignatureError("malformed_signature", `Signature ${label} is not a bare byte sequence`);
    }
    signatures.set(label, new Uint8Array(member[0]));
  }
  return signatures;
}

function parseCapped(header: string, reason: SignatureErrorReason, name: string): Dictionary {
  // Checked before parsing: the cap is what bounds the parser's work.
  if (header.length > MAX_SIGNATURE_HEADER_LENGTH) {
    throw new SignatureError(reason, `${name} exceeds ${MAX_SIGNATURE_HEADER_LENGTH} bytes`);
  }
  let dictionary: Dictionary;
  try {
    dictionary = parseDictionary(header);
  } catch (cause) {
    throw new SignatureError(reason, `${name} is not a structured dictionary`, { cause });
  }
  if (dictionary.size === 0) throw new SignatureError(reason, `${name} is empty`);
  if (dictionary.size > MAX_SIGNATURE_LABELS) {
    throw new SignatureError(reason, `${name} has more than ${MAX_SIGNATURE_LABELS} labels`);
  }
  return dictionary;
}

function componentsOf(label: string, member: InnerList): string[] {
  const items: Item[] = member[0];
  if (items.length > MAX_COVERED_COMPONENTS) {
    throw new SignatureError(
      "malformed_signature_input",
      `${label} covers more than ${MAX_COVERED_COMPONENTS} components`,
    );
  }
  return items.map(([name, params]) => {
    if (typeof name !== "string") {
      throw new SignatureError("malformed_signature_input", `${label} has a component identifier that is not a string`);
    }
    // Parameters (`;name=` of @query-param, `;key=` of a dictionary field) are
    // judged by the base builder, which knows which component takes which.
    for (const value of params.values()) {
      if (!isRfc8941(value)) {
        throw new SignatureError("malformed_signature_input", `${label} uses an RFC 9651-only parameter value`);
      }
    }
    return componentId(name, params);
  });
}

function paramsOf(label: string, params: Parameters): Parameters {
  for (const value of params.values()) {
    if (!isRfc8941(value)) {
      throw new SignatureError("malformed_signature_input", `${label} uses an RFC 9651-only parameter value`);
    }
  }
  return params;
}

// RFC 9421 is defined over RFC 8941; dates and display strings came later (RFC 9651).
function isRfc8941(value: BareItem): boolean {
  return !(value instanceof Date) && !(value instanceof DisplayString);
}
