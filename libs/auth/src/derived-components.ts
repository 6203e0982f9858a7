import type { Parameters } from "structured-headers";
import { normalizeAuthority, type RequestTarget } from "./request-target.ts";
import { SignatureError } from "./signature-error.ts";

/** RFC 9421 §2.2: the values of derived components of a request. */

export const DERIVED_COMPONENTS = [
  "@method",
  "@target-uri",
  "@authority",
  "@scheme",
  "@request-target",
  "@path",
  "@query",
  "@query-param",
] as const;

/** What a derived component is computed from, besides the request target. */
export interface DerivationContext {
  method: string;
  /** Host field value, when the request has one (read only if @authority needs it). */
  host(): string | undefined;
  /** The scheme the request was received with, for an origin-form target (the server knows if it is behind TLS). */
  scheme: string | undefined;
  /** The authority the request was addressed to, for an origin-form target; the Host field when absent. */
  authority: string | undefined;
  target(): RequestTarget;
}

const DERIVED = new Set<string>(DERIVED_COMPONENTS);
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SCHEME = /^[a-z][a-z0-9+.-]*$/;

export function isDerived(name: string): boolean {
  return name.startsWith("@");
}

export function derivedValue(ctx: DerivationContext, name: string, params: Parameters): string {
  // @status belongs to responses (§2.2.9); @signature-params is the base's last line, never covered.
  if (name === "@status") throw new SignatureError("unsupported_component", "@status is a response component");
  if (name === "@signature-params") {
    throw new SignatureError("malformed_signature_input", "@signature-params cannot be a covered component");
  }
  if (!DERIVED.has(name)) throw new SignatureError("unsupported_component", `unsupported ${name}`);
  if (name === "@query-param") return queryParam(ctx.target(), params);
  // `req` (a response's request) and any other parameter mean nothing on a request's derived component.
  if (params.size !== 0) throw new SignatureError("unsupported_component", `${name} takes no parameters here`);
  switch (name) {
    case "@method":
      if (!METHOD.test(ctx.method)) throw new SignatureError("invalid_component_value", "method is not a token");
      return ctx.method;
    case "@path":
      return ctx.target().path;
    case "@query":
      return ctx.target().query;
    case "@request-target":
      return ctx.target().requestTarget;
    case "@authority":
      return authority(ctx);
    case "@scheme":
      return scheme(ctx);
    default: {
      // @target-uri: the absolute form as received, or rebuilt from the origin-form pieces.
      const t = ctx.target();
      if (t.scheme !== undefined) return t.requestTarget;
      return `${scheme(ctx)}://${authority(ctx)}${t.requestTarget}`;
    }
  }
}

function scheme(ctx: DerivationContext): string {
  const value = ctx.target().scheme ?? ctx.scheme?.toLowerCase();
  if (value === undefined) throw new SignatureError("missing_component", "the request scheme is unknown");
  if (!SCHEME.test(value)) throw new SignatureError("invalid_component_value", "bad scheme");
  return value;
}

function authority(ctx: DerivationContext): string {
  const t = ctx.target();
  if (t.authority !== undefined) return t.authority;
  const given = ctx.authority ?? ctx.host();
  if (given === undefined || given === "") {
    throw new SignatureError("missing_component", "no authority: Host is absent");
  }
  return normalizeAuthority(given, t.scheme ?? ctx.scheme?.toLowerCase());
}

/**
 * §2.2.8: the named parameter of the query, decoded as
 * application/x-www-form-urlencoded and re-encoded (encodeURIComponent is the
 * WHATWG component percent-encode set the RFC names). A name that occurs twice
 * is refused: which of the two would the handler read?
 */
function queryParam(target: RequestTarget, params: Parameters): string {
  const wanted = params.get("name");
  if (typeof wanted !== "string" || params.size !== 1) {
    throw new SignatureError("malformed_signature_input", "@query-param takes exactly a string name parameter");
  }
  const values: string[] = [];
  for (const [name, value] of new URLSearchParams(target.query.slice(1))) {
    if (encodeURIComponent(name) === wanted) values.push(value);
  }
  const [value, ...more] = values;
  if (value === undefined) throw new SignatureError("missing_component", `query parameter ${wanted} is absent`);
  if (more.length > 0) throw new SignatureError("invalid_component_value", `query parameter ${wanted} occurs twice`);
  return encodeURIComponent(value);
}
