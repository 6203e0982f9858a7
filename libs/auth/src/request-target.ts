import { SignatureError } from "./signature-error.ts";

/**
 * Splits a request target, as sent on the request line (origin-form
 * `/path?query`) or as an absolute URI, into the raw pieces RFC 9421 §2.2
 * derives components from. Deliberately no WHATWG URL parsing: it rewrites
 * paths (dot segments, percent-encoding), and the signature must cover the
 * bytes the server actually routes on.
 */
export interface RequestTarget {
  /** Lowercased scheme, when the target is an absolute URI. */
  scheme: string | undefined;
  /** host[:port] without userinfo, when the target is an absolute URI. */
  authority: string | undefined;
  /** The path, "/" when empty (§2.2.6). */
  path: string;
  /** The query with its leading "?", or "?" alone when absent (§2.2.7). */
  query: string;
  /** The target as given, without any fragment (§2.2.5). */
  requestTarget: string;
}

// Visible ASCII only: a space, a control character or a non-ASCII byte in the
// target could never round-trip between signer and verifier byte for byte.
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/;

export function parseRequestTarget(url: string): RequestTarget {
  const hash = url.indexOf("#");
  // Fragments never reach the server, so they are never signed.
  const target = hash === -1 ? url : url.slice(0, hash);
  if (!VISIBLE_ASCII.test(target)) {
    throw new SignatureError("invalid_component_value", "request target is not visible ASCII");
  }
  if (target.startsWith("/")) return { scheme: undefined, authority: undefined, ...splitPathQuery(target, target) };
  const match = ABSOLUTE.exec(target);
  if (match === null) {
    throw new SignatureError("invalid_component_value", "request target is neither origin-form nor an absolute URI");
  }
  const [, scheme = "", rawAuthority = "", rest = ""] = match;
  const at = rawAuthority.lastIndexOf("@");
  const lowerScheme = scheme.toLowerCase();
  return {
    scheme: lowerScheme,
    authority: normalizeAuthority(at === -1 ? rawAuthority : rawAuthority.slice(at + 1), lowerScheme),
    ...splitPathQuery(rest, target),
  };
}

/** §2.2.3: lowercase host, default port dropped. */
export function normalizeAuthority(authority: string, scheme: string | undefined): string {
  const lower = authority.toLowerCase();
  if (scheme === "http" && lower.endsWith(":80")) return lower.slice(0, -3);
  if (scheme === "https" && lower.endsWith(":443")) return lower.slice(0, -4);
  return lower;
}

function splitPathQuery(pathAndQuery: string, requestTarget: string): Omit<RequestTarget, "scheme" | "authority"> {
  const mark = pathAndQuery.indexOf("?");
  const path = mark === -1 ? pathAndQuery : pathAndQuery.slice(0, mark);
  const query = mark === -1 ? "?" : pathAndQuery.slice(mark);
  return { path: path === "" ? "/" : path, query, requestTarget };
}
