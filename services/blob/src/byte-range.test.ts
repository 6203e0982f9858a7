import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolveRange } from "./byte-range.ts";

describe("resolveRange", () => {
  it("resolves single ranges against the size", () => {
    expect(resolveRange("bytes=0-99", 1000)).toEqual({ kind: "partial", start: 0, end: 99 });
    expect(resolveRange("bytes=900-", 1000)).toEqual({ kind: "partial", start: 900, end: 999 });
    expect(resolveRange("bytes=-10", 1000)).toEqual({ kind: "partial", start: 990, end: 999 });
    expect(resolveRange("bytes=-5000", 1000)).toEqual({ kind: "partial", start: 0, end: 999 });
    expect(resolveRange("bytes=990-5000", 1000)).toEqual({ kind: "partial", start: 990, end: 999 });
  });

  it("refuses ranges no byte satisfies", () => {
    for (const header of ["bytes=1000-", "bytes=1000-2000", "bytes=-0"]) {
      expect([header, resolveRange(header, 1000)]).toEqual([header, { kind: "unsatisfiable" }]);
    }
    expect(resolveRange("bytes=0-0", 0)).toEqual({ kind: "unsatisfiable" });
  });

  it("ignores what it does not serve: no header, several ranges, other units, malformed specs", () => {
    for (const header of [undefined, "bytes=0-1,4-5", "items=0-1", "bytes=5-1", "bytes=-", "bytes=a-b", "bytes 0-1"]) {
      expect(resolveRange(header, 1000)).toEqual({ kind: "whole" });
    }
  });

  it("a partial answer always lies inside the blob", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.nat(1_000_000), (tail, size) => {
        const outcome = resolveRange(`bytes=${tail}`, size);
        if (outcome.kind !== "partial") return;
        expect(outcome.start).toBeGreaterThanOrEqual(0);
        expect(outcome.end).toBeGreaterThanOrEqual(outcome.start);
        expect(outcome.end).toBeLessThan(size);
      }),
    );
  });
});
