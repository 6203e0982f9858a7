import { describe, expect, it, vi } from "vitest";
import { ConnectionGate } from "./connection-gate.ts";
import { withDeadline } from "./deadline.ts";
import { ConflictError, UnavailableError } from "./errors.ts";

const never = () => new Promise<never>(() => {});
const noResponders = () => Promise.reject(Object.assign(new Error("503"), { name: "NoRespondersError" }));

describe("withDeadline", () => {
  it("retries an idempotent operation whose reply was lost, inside the same deadline", async () => {
    let calls = 0;
    const t = Date.now();
    const v = await withDeadline("get x", 900, () => (++calls === 1 ? never() : Promise.resolve(7)), { retry: true });
    expect(v).toBe(7);
    expect(calls).toBe(2);
    expect(Date.now() - t).toBeLessThan(900);
  });

  it("retries fast failures (no responders during a leader move) and then answers", async () => {
    let calls = 0;
    const v = await withDeadline("get x", 1_000, () => (++calls < 4 ? noResponders() : Promise.resolve("ok")), {
      retry: true,
    });
    expect([v, calls]).toEqual(["ok", 4]);
  });

  it("keeps fail-closed timing: a store that never answers is Unavailable at the deadline, not later", async () => {
    // On a fake clock, so the bound is exact whatever the machine's load (a retry that restarted
    // the deadline would still be pending at 600 ms).
    vi.useFakeTimers();
    try {
      for (const op of [never, noResponders]) {
        let outcome: unknown;
        void withDeadline("get x", 600, op, { retry: true }).then(
          () => (outcome = "answered"),
          (err: unknown) => (outcome = err),
        );
        // Fast failures are retried until too little time is left for another attempt (150 ms).
        const earliest = op === never ? 599 : 400;
        await vi.advanceTimersByTimeAsync(earliest);
        expect(outcome, op.name).toBeUndefined();
        await vi.advanceTimersByTimeAsync(600 - earliest);
        expect(outcome, op.name).toBeInstanceOf(UnavailableError);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not retry a conflict, nor anything without `retry`", async () => {
    let calls = 0;
    const conflict = () => {
      calls++;
      return Promise.reject(
        Object.assign(new Error("wrong last sequence"), { name: "JetStreamApiError", code: 10071 }),
      );
    };
    await expect(withDeadline("write x", 500, conflict, { retry: true })).rejects.toBeInstanceOf(ConflictError);
    const unavailable = () => {
      calls++;
      return noResponders();
    };
    await expect(withDeadline("write x", 500, unavailable)).rejects.toBeInstanceOf(UnavailableError);
    expect(calls).toBe(2);
  });
});

describe("ConnectionGate", () => {
  it("holds new work during a move and lets the work in flight finish first", async () => {
    const gate = new ConnectionGate();
    const order: string[] = [];
    let finishInflight: () => void = () => {};
    const inflight = gate.run(
      () =>
        new Promise<void>((r) => {
          finishInflight = () => {
            order.push("in-flight done");
            r();
          };
        }),
    );
    const move = gate.move(5_000, async () => {
      order.push("switched");
    });
    const held = gate.run(async () => {
      order.push("held work ran");
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    finishInflight();
    await Promise.all([inflight, move, held]);
    expect(order).toEqual(["in-flight done", "switched", "held work ran"]);
    expect(gate.moves).toBe(1);
  });

  it("lets short operations through while it drains, and holds them only during the switch", async () => {
    const gate = new ConnectionGate();
    void gate.run(never); // a stuck call: the drain waits its whole cap
    let switched: () => void = () => {};
    const move = gate.move(300, () => new Promise<void>((r) => (switched = r)));
    // Draining: a short operation goes through at once.
    expect(await gate.pass(async () => "during drain")).toBe("during drain");
    await new Promise((r) => setTimeout(r, 350));
    // Switching: held until the switch is over.
    let done = false;
    const held = gate.pass(async () => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    switched();
    await Promise.all([move, held]);
    expect(done).toBe(true);
  });

  it("switches after drainMs when the work in flight does not finish, and never rejects", async () => {
    const gate = new ConnectionGate();
    void gate.run(never);
    const t = Date.now();
    await gate.move(100, async () => {
      throw new Error("dial failed");
    });
    expect(Date.now() - t).toBeGreaterThanOrEqual(95);
    expect(gate.moves).toBe(0);
    expect(await gate.run(async () => "open again")).toBe("open again");
  });
});
