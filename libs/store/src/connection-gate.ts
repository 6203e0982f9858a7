/**
 * Lets a connection move to another server without failing the work on it.
 * Store operations (and other work that must not be cut, such as RPC calls
 * and blob streams) run through `run`: they are counted while in flight, and
 * wait while a move is under way. `move` closes the gate, waits for the work
 * in flight to finish (at most `drainMs`), switches, and opens the gate again.
 *
 * Used for lame-duck mode: a server that is about to stop tells its clients
 * (INFO ldm) and closes them only after a grace period; moving inside that
 * period loses no reply (docs/store.md, "Planned restarts").
 */
export class ConnectionGate {
  private inflight = 0;
  private moving: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  /** Completed moves (metrics, tests). */
  moves = 0;

  get busy(): number {
    return this.inflight;
  }

  async run<T>(op: () => Promise<T>): Promise<T> {
    while (this.moving) await this.moving;
    this.inflight++;
    try {
      return await op();
    } finally {
      this.inflight--;
      if (this.inflight === 0) this.idle?.();
    }
  }

  /** One move at a time; a second call while moving joins the first. Never rejects. */
  move(drainMs: number, switchOver: () => Promise<void>): Promise<void> {
    if (this.moving) return this.moving;
    this.moving = (async () => {
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
        await switchOver();
        this.moves++;
      } catch {
        // The client reconnects by itself when the server finally closes us.
      }
    })().finally(() => {
      this.moving = undefined;
    });
    return this.moving;
  }
}
