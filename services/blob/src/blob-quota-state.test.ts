import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyQuotaOp, type BlobQuotaState, currentQuota, inFlight, type QuotaOp } from "./blob-quota-state.ts";

const limits = { bytes: 1_000, count: 3 };
const reserve = (id: string, bytes: number, leaseMs = 10_000): QuotaOp => ({
  kind: "reserve",
  id,
  bytes,
  limits,
  leaseMs,
});
const commit = (id: string, bytes: number): QuotaOp => ({ kind: "commit", id, bytes });
const release = (id: string): QuotaOp => ({ kind: "release", id });

function run(ops: QuotaOp[], start?: BlobQuotaState, now = 1_000) {
  let state = start;
  const results = ops.map((op) => {
    const out = applyQuotaOp(state, op, now);
    state = out.next ?? state;
    return out.result;
  });
  return { state, results };
}

describe("blob quota state", () => {
  it("refuses past the byte limit with the numbers, counting uploads in flight", () => {
    const { results, state } = run([reserve("a", 600), reserve("b", 500), commit("a", 550), reserve("c", 450)]);
    expect(results).toEqual([
      { ok: true },
      { ok: false, why: "bytes", total: 1_100, limit: 1_000 },
      { ok: true },
      { ok: true },
    ]);
    expect(state).toMatchObject({ bytes: 550, count: 1 });
    expect(run([reserve("d", 1)], state).results[0]).toEqual({ ok: false, why: "bytes", total: 1_001, limit: 1_000 });
  });

  it("refuses past the blob count with the numbers; a released upload returns its room", () => {
    const { results, state } = run([reserve("a", 1), reserve("b", 1), reserve("c", 1), reserve("d", 1)]);
    expect(results.at(-1)).toEqual({ ok: false, why: "count", total: 4, limit: 3 });
    const after = run([release("c"), reserve("d", 1)], state);
    expect(after.results).toEqual([{ ok: true }, { ok: true }]);
  });

  it("commit charges the real size, at most what was reserved; operations are idempotent by id", () => {
    const { state, results } = run([reserve("a", 100), commit("a", 5_000), commit("a", 5_000), reserve("a", 100)]);
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    expect(state).toMatchObject({ bytes: 100, count: 1 });
    expect(inFlight(state as BlobQuotaState)).toEqual({ bytes: 0, count: 0 });
  });

  it("an upload whose lease ended is charged as stored (its replica may have died after the commit)", () => {
    const held = run([reserve("dead", 700, 1_000)], undefined, 1_000).state;
    const later = run([reserve("x", 400)], held, 2_000);
    expect(later.results[0]).toEqual({ ok: false, why: "bytes", total: 1_100, limit: 1_000 });
    // A refusal writes nothing; every read and the next write see the charge.
    expect(currentQuota(held, 2_000)).toMatchObject({ bytes: 700, count: 1 });
    const next = run([reserve("y", 300), commit("dead", 700)], held, 2_001).state;
    expect(next).toMatchObject({ bytes: 700, count: 1 });
  });

  it.each(["__proto__", "constructor", "toString", "hasOwnProperty"])("upload id %s is an id like any other", (id) => {
    const { state, results } = run([reserve(id, 10), commit(id, 10)]);
    expect(results).toEqual([{ ok: true }, { ok: true }]);
    expect(state).toMatchObject({ bytes: 10, count: 1 });
  });

  it("whatever the interleaving, stored plus in flight never passes the limits", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom("reserve", "commit", "release"),
            id: fc.integer({ min: 0, max: 8 }),
            bytes: fc.integer({ min: 0, max: 600 }),
          }),
          { maxLength: 50 },
        ),
        (plan) => {
          let state: BlobQuotaState | undefined;
          for (const p of plan) {
            const id = `u${p.id}`;
            const op =
              p.kind === "reserve" ? reserve(id, p.bytes) : p.kind === "commit" ? commit(id, p.bytes) : release(id);
            state = applyQuotaOp(state, op, 1_000).next ?? state;
            if (!state) continue;
            const flying = inFlight(state);
            expect(state.bytes + flying.bytes).toBeLessThanOrEqual(limits.bytes);
            expect(state.count + flying.count).toBeLessThanOrEqual(limits.count);
          }
        },
      ),
    );
  });
});
