import { describe, expect, it } from "vitest";
import { DecodeMemo } from "./decode-memo.ts";

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe("DecodeMemo", () => {
  it("decodes identical bytes of a key once, and bytes that changed again (a revocation is seen at once)", () => {
    const memo = new DecodeMemo<{ status: string }>(10);
    let decoded = 0;
    const decode = (d: Uint8Array) => {
      decoded++;
      return JSON.parse(new TextDecoder().decode(d)) as { status: string };
    };
    const active = memo.decode("u1", bytes({ status: "active" }), decode);
    expect(memo.decode("u1", bytes({ status: "active" }), decode)).toBe(active);
    expect(decoded).toBe(1);
    expect(memo.decode("u1", bytes({ status: "revoked" }), decode)).toEqual({ status: "revoked" });
    expect(decoded).toBe(2);
    // The same bytes under another key are that key's own decode.
    memo.decode("u2", bytes({ status: "revoked" }), decode);
    expect(decoded).toBe(3);
  });

  it("compares the bytes of a view, not the buffer behind it", () => {
    const memo = new DecodeMemo<unknown>(10);
    let decoded = 0;
    const decode = (d: Uint8Array) => {
      decoded++;
      return JSON.parse(new TextDecoder().decode(d));
    };
    const buffer = new Uint8Array(64);
    const value = bytes({ a: 1 });
    buffer.set(value, 8);
    memo.decode("k", buffer.subarray(8, 8 + value.byteLength), decode);
    buffer.fill(0); // the client reuses its buffer
    expect(memo.decode("k", bytes({ a: 1 }), decode)).toEqual({ a: 1 });
    expect(decoded).toBe(1);
    expect(memo.decode("k", bytes({ a: 2 }), decode)).toEqual({ a: 2 });
  });

  it("never remembers a value that fails to decode", () => {
    const memo = new DecodeMemo<unknown>(10);
    const failing = () => {
      throw new Error("fails its schema");
    };
    expect(() => memo.decode("k", bytes({}), failing)).toThrow(/schema/);
    expect(() => memo.decode("k", bytes({}), failing)).toThrow(/schema/);
    expect(memo.size).toBe(0);
  });

  it("hands out frozen values: one caller cannot change what the next is given", () => {
    const memo = new DecodeMemo<{ scopes: string[] }>(10);
    const decode = (d: Uint8Array) => JSON.parse(new TextDecoder().decode(d)) as { scopes: string[] };
    const value = memo.decode("k", bytes({ scopes: ["a"] }), decode);
    expect(() => value.scopes.push("admin")).toThrow(TypeError);
    expect(memo.decode("k", bytes({ scopes: ["a"] }), decode).scopes).toEqual(["a"]);
  });

  it("holds at most its capacity, dropping the least recently read key", () => {
    const memo = new DecodeMemo<unknown>(2);
    let decoded = 0;
    const decode = (d: Uint8Array) => {
      decoded++;
      return JSON.parse(new TextDecoder().decode(d));
    };
    memo.decode("a", bytes(1), decode);
    memo.decode("b", bytes(2), decode);
    memo.decode("a", bytes(1), decode); // a is now the most recent
    memo.decode("c", bytes(3), decode); // b goes
    expect(memo.size).toBe(2);
    expect(decoded).toBe(3);
    memo.decode("a", bytes(1), decode);
    expect(decoded).toBe(3);
    memo.decode("b", bytes(2), decode);
    expect(decoded).toBe(4);
  });
});
