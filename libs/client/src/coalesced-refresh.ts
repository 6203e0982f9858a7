/**
 * Refreshes of a room's members and keys, coalesced and rate-limited: at most
 * one runs at a time, runs start at least `minIntervalMs` apart, and every
 * request made meanwhile shares the next run. A flood of junk envelopes
 * (unknown epochs, unknown senders) therefore costs the membership service at
 * most one refresh per interval, however many envelopes arrive.
 */
export class CoalescedRefresh {
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  /** Refreshes started so far. */
  runs = 0;

  constructor(
    private readonly run: () => Promise<void>,
    readonly minIntervalMs: number,
  ) {}

  /** Resolves when a refresh that started after this call has finished (rejects if it failed). */
  request(): Promise<void> {
    this.queued ??= this.next();
    return this.queued;
  }

  private async next(): Promise<void> {
    // Let `request` store this promise before anything below can clear it.
    await Promise.resolve();
    if (this.inFlight) await this.inFlight.catch(() => {});
    const wait = this.lastStart + this.minIntervalMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    this.queued = undefined; // requests from here on wait for the run after this one
    this.lastStart = Date.now();
    this.runs++;
    const running = this.run();
    this.inFlight = running;
    try {
      await running;
    } finally {
      if (this.inFlight === running) this.inFlight = undefined;
    }
  }
}
