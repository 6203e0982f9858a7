import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { withDeadline } from "./deadline.ts";
import { withinDecisionDeadline } from "./decision-deadline.ts";
import { UnavailableError } from "./errors.ts";
import type { KvTable } from "./kv-table.ts";
import { QuorumWitness } from "./quorum-witness.ts";

// Issue 16 item 5: a request's store calls in sequence (allowlist read, nonce
// claim, plan read, rate limit, witness) each had a deadline of their own, so
// under quorum loss a refusal came after their sum (3.7–3.9 s for a 2 s
// timeout). Inside a decision every call ends at the decision's deadline.
const OP_TIMEOUT_MS = 2_000;
const never = () => new Promise<never>(() => {});

describe("the decision deadline bounds every store call of one decision", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** When (fake ms after the start) `decision` settled, and how. */
  async function settle(decision: Promise<unknown>) {
    const started = Date.now();
    let ended: { at: number; err: unknown } | undefined;
    decision.then(
      () => (ended = { at: Date.now() - started, err: undefined }),
      (err: unknown) => (ended = { at: Date.now() - started, err }),
    );
    for (let t = 0; t < 3 * OP_TIMEOUT_MS && !ended; t += 10) await vi.advanceTimersByTimeAsync(10);
    return ended;
  }

  it("two store calls in sequence that never answer are refused at the decision deadline, not after both timeouts", async () => {
    const sequence = async () => {
      await withDeadline("allowlist read", OP_TIMEOUT_MS, never, { retry: true }).catch(() => {});
      await withDeadline("nonce claim", OP_TIMEOUT_MS, never, { retry: true });
    };
    const outside = await settle(sequence());
    expect(outside?.at).toBeGreaterThanOrEqual(2 * OP_TIMEOUT_MS);
    const inside = await settle(withinDecisionDeadline(Date.now() + OP_TIMEOUT_MS, sequence));
    expect(inside?.err).toBeInstanceOf(UnavailableError);
    expect(inside?.at).toBeLessThanOrEqual(OP_TIMEOUT_MS + 10);
  });

  it("a call started after the deadline is refused without being sent", async () => {
    let sent = 0;
    const decision = withinDecisionDeadline(Date.now() + 100, async () => {
      await new Promise((r) => setTimeout(r, 150));
      return withDeadline("plan read", OP_TIMEOUT_MS, async () => ++sent);
    });
    const ended = await settle(decision);
    expect([ended?.err, sent]).toEqual([expect.any(UnavailableError), 0]);
  });

  it("a nested decision keeps the earlier bound", async () => {
    const at = Date.now() + 300;
    const nested = withinDecisionDeadline(at, () =>
      withinDecisionDeadline(at + 5_000, () => withDeadline("read", OP_TIMEOUT_MS, never)),
    );
    expect((await settle(nested))?.at).toBeLessThanOrEqual(310);
  });

  it("a witness wait shared with a later caller ends at this caller's deadline", async () => {
    const table = { put: () => never() } as unknown as KvTable<{ at: number }>;
    const witness = new QuorumWitness(table, "t", 50);
    // The write in flight belongs to a caller outside any decision (no bound of its own here).
    void witness.confirm().catch(() => {});
    const ours = await settle(withinDecisionDeadline(Date.now() + 400, () => witness.confirm()));
    expect(ours?.err).toBeInstanceOf(UnavailableError);
    expect(ours?.at).toBeLessThanOrEqual(410);
  });

  it("a witness write shared by several callers is not cut at the deadline of the one that started it", async () => {
    // Each write takes 300 ms and honours the decision deadline it runs under, as KvTable writes do.
    const table = {
      put: () => withDeadline("witness write", OP_TIMEOUT_MS, () => new Promise((r) => setTimeout(r, 300))),
    } as unknown as KvTable<{ at: number }>;
    const witness = new QuorumWitness(table, "t", 1_000);
    void witness.confirm(); // a write in flight: the next one is queued by the first caller below
    const short = withinDecisionDeadline(Date.now() + 100, () => witness.confirm());
    const patient = witness.confirm();
    const [a, b] = await Promise.all([settle(short), settle(patient)]);
    expect(a?.err).toBeInstanceOf(UnavailableError);
    expect(b).toEqual({ at: expect.any(Number), err: undefined });
  });
});
