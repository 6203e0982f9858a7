/**
 * Lets a connection move to another server without failing the work on it.
 *
 * Two kinds of work pass the gate:
 * - `run`: work that cannot be retried once started and must not be cut —
 *   upstream RPC calls, blob uploads. It is counted while in flight, and held
 *   for the whole move.
 * - `pass`: short store operations that are retried inside their deadline
 *   (deadline.ts). They are not waited for, and are held only while the
 *   connection switches; one caught in the switch loses an attempt, not the
 *   request.
 *
 * `move` holds new `run` work, waits for the `run` work in flight (at most
 * `drainMs`), holds `pass` work too, switches, and lets everything go.
 * Holding short operations during the drain would turn one stuck request
 * into an outage for all (seen: every request of a replica waiting 2 s).
 *
 * Used for lame-duck mode: a server that is about to stop tells its clients
 * (INFO ldm) and closes them only after a grace period; moving inside that
 * period loses no reply (docs/store.md, "Planned restarts").
 */
export class ConnectionGate {
  private inflight = 0;
  private holding: Promise<void> | undefined;
  private switching: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  /** Completed moves (metrics, tests). */
  moves = 0;

  get busy(): number {
    return this.inflight;
  }

  /** Work that must not be cut: counted, and held for a whole move. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    while (this.holding) await this.holding;
    this.inflight++;
    try {
      return await op();
    } finally {
      this.inflight--;
      if (this.inflight === 0) this.idle?.();
    }
  }

  /** A short, retried operation: held only while the connection switches. */
  async pass<T>(op: () => Promise<T>): Promise<T> {
    while (this.switching) await this.switching;
    return op();
  }

  /** One move at a time; a second call while moving joins the first. Never rejects. */
  move(drainMs: number, switchOver: () => Promise<void>): Promise<void> {
    if (this.holding) return this.holding;
    this.holding = (async () => {
      try {
        if (this.inflight > 0) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            new Promise<void>((r) => {
              this.idle = r;
            }),
            new Promise<void>((r) => {
              timer = setTimeout(r, drainMs);
            }),
          ]);
          clearTimeout(timer);
          this.idle = undefined;
        }
        this.switching = switchOver();
        await this.switching;
        this.moves++;
      } catch {
        // The client reconnects by itself when the server finally closes us.
      } finally {
        this.switching = undefined;
      }
    })().finally(() => {
      this.holding = undefined;
    });
    return this.holding;
  }
}
