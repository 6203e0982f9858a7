/**
 * Duplicate and replay refusal for room envelopes (docs/rooms.md,
 * "Envelopes"). Anyone on a room's subject can re-publish a member's
 * envelope; its signature still verifies, so `seq` and `ts` (both signed)
 * decide. Per sender: the highest sequence seen and a bitmap of the `window`
 * sequences below it (out-of-order delivery inside the window is accepted
 * once). Memory is bounded by `maxSenders`; a sender forgotten to make room,
 * or never seen, is accepted only with a time after the receiver's floor, so
 * forgetting never reopens old envelopes.
 */
export interface ReplayPolicy {
  /** Sequences below the highest seen that are still accepted once (reordering). */
  window: number;
  /** Envelopes older than this are refused outright. */
  maxAgeMs: number;
  /** How far a sender's clock may run ahead of ours. */
  maxSkewMs: number;
  /** Senders remembered; beyond it the least recently heard is forgotten. */
  maxSenders: number;
}

export const REPLAY_POLICY: ReplayPolicy = { window: 128, maxAgeMs: 120_000, maxSkewMs: 30_000, maxSenders: 4_096 };

interface SenderState {
  highest: number;
  /** Bit i set: sequence `highest - i` was accepted. */
  seen: bigint;
  lastTs: number;
}

export class ReplayGuard {
  private readonly senders = new Map<string, SenderState>();
  private readonly mask: bigint;
  /** A sender we hold nothing for must be newer than this (our start, or the newest envelope of a forgotten sender). */
  private floorTs: number;

  constructor(
    private readonly policy: ReplayPolicy = REPLAY_POLICY,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(policy.window) || policy.window < 1) throw new RangeError("replay window must be ≥ 1");
    this.mask = (1n << BigInt(policy.window)) - 1n;
    // Envelopes sent before we listened cannot reach us live: only as replays (minus the clock skew we allow).
    this.floorTs = now() - policy.maxSkewMs;
  }

  /** Why the envelope must be dropped, or undefined when it is new. Records nothing. */
  check(from: string, seq: number, ts: number): string | undefined {
    const now = this.now();
    if (ts < now - this.policy.maxAgeMs) return "envelope too old";
    if (ts > now + this.policy.maxSkewMs) return "envelope time is in the future";
    const state = this.senders.get(from);
    if (!state) return ts <= this.floorTs ? "envelope older than this receiver's replay memory" : undefined;
    if (seq > state.highest) return undefined;
    const back = state.highest - seq;
    if (back >= this.policy.window) return "envelope sequence below the replay window";
    return (state.seen >> BigInt(back)) & 1n ? "duplicate envelope" : undefined;
  }

  /** Records an envelope that passed `check` and every other verification (only then: junk must not fill the table). */
  accept(from: string, seq: number, ts: number): void {
    const state = this.senders.get(from);
    this.senders.delete(from); // re-inserted below: the Map's order is least recently heard first
    if (!state) {
      this.senders.set(from, { highest: seq, seen: 1n, lastTs: ts });
      this.forgetBeyondBound();
      return;
    }
    if (seq > state.highest) {
      const shift = seq - state.highest;
      state.seen = shift >= this.policy.window ? 1n : ((state.seen << BigInt(shift)) | 1n) & this.mask;
      state.highest = seq;
    } else {
      state.seen |= 1n << BigInt(state.highest - seq);
    }
    state.lastTs = Math.max(state.lastTs, ts);
    this.senders.set(from, state);
  }

  get size(): number {
    return this.senders.size;
  }

  private forgetBeyondBound(): void {
    while (this.senders.size > this.policy.maxSenders) {
      const [oldest, state] = this.senders.entries().next().value as [string, SenderState];
      this.senders.delete(oldest);
      this.floorTs = Math.max(this.floorTs, state.lastTs);
    }
  }
}

/**
 * A sender's sequence: strictly increasing, and also across restarts without
 * any stored state, because it never falls below the clock in microseconds
 * (a sender cannot publish a million envelopes a second).
 */
export class SenderSequence {
  private last = 0;

  constructor(private readonly now: () => number = Date.now) {}

  next(): { seq: number; ts: number } {
    const ts = this.now();
    this.last = Math.max(this.last + 1, ts * 1000);
    return { seq: this.last, ts };
  }
}
