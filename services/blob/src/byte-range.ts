/**
 * A single byte range of a `Range` header (RFC 9110 §14.1.2), resolved against
 * the blob's size. Multiple ranges and anything malformed are ignored (the
 * whole blob is served), as the RFC allows; only a well-formed range that no
 * byte of the blob satisfies is refused (416).
 */
export type RangeOutcome =
  | { kind: "whole" }
  | { kind: "partial"; start: number; end: number }
  | { kind: "unsatisfiable" };

const SINGLE = /^bytes=(\d{0,15})-(\d{0,15})$/;

export function resolveRange(header: string | undefined, size: number): RangeOutcome {
  if (header === undefined) return { kind: "whole" };
  const match = SINGLE.exec(header.trim());
  if (!match) return { kind: "whole" };
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return { kind: "whole" };
  if (first === "") {
    // Suffix range: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return { kind: "whole" }; // invalid range-spec: ignored
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}
