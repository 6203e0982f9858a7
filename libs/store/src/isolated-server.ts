/**
 * Notices when the server a connection is attached to has lost every route
 * to its cluster, and moves the connection elsewhere.
 *
 * A server cut off from its peers still accepts clients and answers them; the
 * client sees a healthy connection and never fails over. Every store
 * operation through it ends Unavailable (no quorum on that side: fail-closed
 * holds), so a replica attached there answers 503 for as long as the
 * partition lasts while the majority could serve it (chaos finding 3).
 *
 * The signal is the server's own: when a route goes, the server sends its
 * clients a new INFO whose `connect_urls` no longer list that peer — measured
 * here within 5 ms of the cut. A server that lists no URL but its own, on a
 * connection that has seen a cluster, has no routes left. After a short grace
 * (a route that drops and comes back is not worth a move) the connection
 * leaves. If the next server is isolated too — quorum lost with a single
 * survivor — moving again is pointless, so moves back off (2 s doubling to
 * 30 s) until a server with peers is seen.
 *
 * A cluster configured with `no_advertise` sends no URLs at all: no
 * connection there has "seen a cluster", so nothing ever moves.
 */
export interface IsolationPolicy {
  /** How long a server must stay without peers before the connection leaves it. */
  graceMs: number;
  /** Wait after a move before the next one, doubled per move while no server with peers is seen. */
  minBackoffMs: number;
  maxBackoffMs: number;
}

const ISOLATION_POLICY: IsolationPolicy = { graceMs: 1_000, minBackoffMs: 2_000, maxBackoffMs: 30_000 };

/** How many other servers an INFO lists (its own client URL is among `connect_urls`). */
export function peersIn(info: { connect_urls?: string[] } | undefined): number {
  return Math.max(0, (info?.connect_urls?.length ?? 0) - 1);
}

export class IsolationWatch {
  private seenCluster = false;
  private isolated = false;
  private moving = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private notBefore = 0;
  /** Moves tried (tests; the gate counts the ones that completed). */
  attempts = 0;

  constructor(
    private readonly move: () => Promise<void>,
    private readonly policy: IsolationPolicy = ISOLATION_POLICY,
    private readonly now: () => number = Date.now,
  ) {
    this.backoffMs = policy.minBackoffMs;
  }

  /** Each INFO the server sends (on connect and on every cluster change): how many peers it lists. */
  observe(peers: number): void {
    if (this.stopped) return;
    if (peers > 0) {
      this.seenCluster = true;
      this.isolated = false;
      this.backoffMs = this.policy.minBackoffMs;
      this.notBefore = 0;
      clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    if (!this.seenCluster) return;
    this.isolated = true;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer || this.moving || this.stopped) return;
    const wait = Math.max(this.policy.graceMs, this.notBefore - this.now());
    this.timer = setTimeout(() => void this.leave(), wait);
    this.timer.unref?.();
  }

  private async leave(): Promise<void> {
    this.timer = undefined;
    if (!this.isolated || this.stopped) return;
    this.moving = true;
    this.attempts++;
    try {
      await this.move();
    } catch {
      // Still on the same server (no other reachable): the backoff below spaces the next try.
    } finally {
      this.moving = false;
    }
    this.notBefore = this.now() + this.backoffMs;
    this.backoffMs = Math.min(this.policy.maxBackoffMs, this.backoffMs * 2);
    // The INFO of the server we landed on was observed during the move.
    if (this.isolated) this.schedule();
  }
}
