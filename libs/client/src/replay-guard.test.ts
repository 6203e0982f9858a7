import { describe, expect, it } from "vitest";
import { REPLAY_POLICY, ReplayGuard, type ReplayPolicy, SenderSequence } from "./replay-guard.ts";

const T0 = 1_800_000_000_000;

function guard(policy: Partial<ReplayPolicy> = {}) {
  const clock = { now: T0 };
  const g = new ReplayGuard({ ...REPLAY_POLICY, ...policy }, () => clock.now);
  const offer = (from: string, seq: number, ts = clock.now) => {
    const why = g.check(from, seq, ts);
    if (!why) g.accept(from, seq, ts);
    return why ?? "accepted";
  };
  return { g, clock, offer };
}

describe("replay guard", () => {
  it("accepts each sequence once; a duplicate is dropped", () => {
    const { offer } = guard();
    expect(offer("a", 10)).toBe("accepted");
    expect(offer("a", 10)).toBe("duplicate envelope");
    expect(offer("b", 10)).toBe("accepted");
  });

  it("accepts out-of-order sequences inside the window once, and refuses below it", () => {
    const { offer } = guard({ window: 8 });
    expect(offer("a", 100)).toBe("accepted");
    expect(offer("a", 95)).toBe("accepted");
    expect(offer("a", 95)).toBe("duplicate envelope");
    expect(offer("a", 93)).toBe("accepted"); // 100 - 7: the window's last slot
    expect(offer("a", 92)).toBe("envelope sequence below the replay window");
    expect(offer("a", 101)).toBe("accepted");
    expect(offer("a", 100)).toBe("duplicate envelope");
    expect(offer("a", 95)).toBe("duplicate envelope"); // still remembered after the shift
    expect(offer("a", 1_000)).toBe("accepted"); // a jump clears the bitmap
    expect(offer("a", 1_000)).toBe("duplicate envelope");
    expect(offer("a", 101)).toBe("envelope sequence below the replay window");
  });

  it("refuses envelopes older than the maximum age or too far in the future", () => {
    const { offer, clock } = guard({ maxAgeMs: 1_000, maxSkewMs: 100 });
    clock.now += 10_000;
    expect(offer("a", 1, clock.now - 1_001)).toBe("envelope too old");
    expect(offer("a", 2, clock.now + 101)).toBe("envelope time is in the future");
    expect(offer("a", 3, clock.now - 900)).toBe("accepted");
  });

  it("a sender never seen is refused with a time from before the receiver started", () => {
    const { offer, clock } = guard({ maxSkewMs: 100 });
    clock.now += 50;
    expect(offer("a", 1, T0 - 100)).toBe("envelope older than this receiver's replay memory");
    expect(offer("a", 1, T0 - 99)).toBe("accepted");
  });

  it("memory stays bounded; a forgotten sender's old envelopes stay refused", () => {
    const { g, clock, offer } = guard({ maxSenders: 100 });
    clock.now += 1_000;
    const first = clock.now;
    expect(offer("s0", 5, first)).toBe("accepted");
    for (let i = 1; i <= 1_000; i++) {
      clock.now += 1;
      expect(offer(`s${i}`, 1)).toBe("accepted");
    }
    expect(g.size).toBe(100);
    // s0 was forgotten; its replay carries a time older than the newest forgotten envelope.
    expect(offer("s0", 5, first)).toBe("envelope older than this receiver's replay memory");
    expect(offer("s0", 6, clock.now + 1)).toBe("accepted");
  });

  it("the sender sequence increases strictly, also across a restart in the same millisecond", () => {
    const now = () => T0;
    const before = new SenderSequence(now);
    const sent = Array.from({ length: 5 }, () => before.next().seq);
    expect(sent).toEqual([...sent].sort((x, y) => x - y));
    expect(new Set(sent).size).toBe(5);
    const later = new SenderSequence(() => T0 + 1).next().seq;
    expect(later).toBeGreaterThan(sent.at(-1) as number);
    expect(Number.isSafeInteger(new SenderSequence(() => 4_102_444_800_000).next().seq)).toBe(true); // year 2100
  });
});
