import pLimit, { type LimitFunction } from "p-limit";

/**
 * Kicks with bounded concurrency, coalesced per bot: changes for a bot whose
 * kick has not started yet share that kick (a storm of changes to one bot is
 * one CONNZ). A change arriving once its kick has started gets a kick of its
 * own: the listing already sent may predate the change's commit. A kick of
 * only the connections started before a time (a follow-up sweep) coalesces
 * with the same kick only.
 */
export class KickQueue<R> {
  private readonly limit: LimitFunction;
  private readonly kick: (signPub: string, startedBefore?: number) => Promise<R>;
  private readonly waiting = new Map<string, Promise<R>>();

  constructor(concurrency: number, kick: (signPub: string, startedBefore?: number) => Promise<R>) {
    this.limit = pLimit(concurrency);
    this.kick = kick;
  }

  /** Kicks not started yet, coalesced (a gauge of the backlog). */
  get backlog(): number {
    return this.waiting.size;
  }

  /** `startedBefore` (ms since the epoch): only the bot's connections that started before it. */
  submit(signPub: string, startedBefore?: number): Promise<R> {
    const key = startedBefore === undefined ? signPub : `${signPub} <${startedBefore}`;
    const queued = this.waiting.get(key);
    if (queued) return queued;
    const job = this.limit(() => {
      this.waiting.delete(key);
      return this.kick(signPub, startedBefore);
    });
    this.waiting.set(key, job);
    return job;
  }
}
