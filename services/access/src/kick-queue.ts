import pLimit, { type LimitFunction } from "p-limit";

/**
 * Kicks with bounded concurrency, coalesced per bot: changes for a bot whose
 * kick has not started yet share that kick (a storm of changes to one bot is
 * one CONNZ). A change arriving once its kick has started gets a kick of its
 * own: the listing already sent may predate the change's commit.
 */
export class KickQueue<R> {
  private readonly limit: LimitFunction;
  private readonly kick: (signPub: string) => Promise<R>;
  private readonly waiting = new Map<string, Promise<R>>();

  constructor(concurrency: number, kick: (signPub: string) => Promise<R>) {
    this.limit = pLimit(concurrency);
    this.kick = kick;
  }

  /** Kicks not started yet, coalesced (a gauge of the backlog). */
  get backlog(): number {
    return this.waiting.size;
  }

  submit(signPub: string): Promise<R> {
    const queued = this.waiting.get(signPub);
    if (queued) return queued;
    const job = this.limit(() => {
      this.waiting.delete(signPub);
      return this.kick(signPub);
    });
    this.waiting.set(signPub, job);
    return job;
  }
}
