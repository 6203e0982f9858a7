import type { KeyFile } from "@conclave/auth";
import { connectAsBot } from "@conclave/client";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { HistoryRecord } from "./history.ts";

/**
 * The bots are given every node's URL and the servers' gossip, as SDK users
 * are. A refused first connect ends at the second refusal (`connectAsBot`;
 * test/access/bot-first-connect.test.ts): before that it had not ended after
 * 20 s against a 3-node cluster, as gossip kept putting the refusing servers
 * back into nats.js's pool, and such a connect hung the first run of this
 * workload at its end.
 */
const CONNECT = { timeout: 10_000 };

/**
 * Data-plane bots for the chaos workload (issue 14 item 5): they connect as
 * themselves through the auth callout, listen on their rooms and publish
 * time-stamped messages, and every connect (first or after a kick) and every
 * delivery goes into the history for dataplane-checkers.ts. The runner
 * drives them through dataplane-workload.ts. Clock: Date.now(), like
 * request records.
 */
export class DataplaneBots {
  private readonly urls: string[];
  private readonly record: (r: HistoryRecord) => void;
  private readonly conns: NatsConnection[] = [];

  constructor(urls: string[], record: (r: HistoryRecord) => void) {
    this.urls = urls;
    this.record = record;
  }

  /**
   * A bot that stays on: its first connect and each reconnect are admissions
   * (a reconnect started when the connection dropped); undefined if refused.
   */
  async join(bot: KeyFile): Promise<NatsConnection | undefined> {
    const t0 = Date.now();
    try {
      const nc = await connectAsBot(bot, { ...CONNECT, servers: this.urls });
      this.record({ type: "admission", bot: bot.signPublicKey, t0, t1: Date.now(), admitted: true });
      this.conns.push(nc);
      void this.follow(bot, nc);
      return nc;
    } catch (err) {
      this.refused(bot, t0, err);
      return undefined;
    }
  }

  /** One connect attempt that must end (an unregistered or revoked key's), recorded either way. */
  async probe(bot: KeyFile): Promise<void> {
    const t0 = Date.now();
    try {
      const nc = await connectAsBot(bot, { ...CONNECT, servers: this.urls, maxReconnectAttempts: 0 });
      this.record({ type: "admission", bot: bot.signPublicKey, t0, t1: Date.now(), admitted: true });
      await nc.close();
    } catch (err) {
      this.refused(bot, t0, err);
    }
  }

  /**
   * Records every message the bot receives on the room. A subscription the
   * server refuses (not, or no longer, a member) records nothing and ends:
   * nats.js closes it (`isClosed()`).
   */
  listen(bot: KeyFile, nc: NatsConnection, room: { id: string; subject: string }): Subscription {
    return nc.subscribe(room.subject, {
      callback: (err, m) => {
        if (err) return;
        const publishedAt = Number((m.json() as { t?: unknown }).t);
        if (!Number.isFinite(publishedAt)) return;
        this.record({ type: "delivery", bot: bot.signPublicKey, room: room.id, publishedAt, receivedAt: Date.now() });
      },
    });
  }

  /** A message carrying its publish time. */
  publish(nc: NatsConnection, subject: string): void {
    if (!nc.isClosed()) nc.publish(subject, JSON.stringify({ t: Date.now() }));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.conns.map((nc) => nc.close()));
  }

  private refused(bot: KeyFile, t0: number, err: unknown): void {
    const error = (err as Error).message;
    this.record({ type: "admission", bot: bot.signPublicKey, t0, t1: Date.now(), admitted: false, error });
  }

  private async follow(bot: KeyFile, nc: NatsConnection): Promise<void> {
    let droppedAt = Date.now();
    for await (const s of nc.status()) {
      if (s.type === "disconnect") droppedAt = Date.now();
      if (s.type === "reconnect") {
        this.record({ type: "admission", bot: bot.signPublicKey, t0: droppedAt, t1: Date.now(), admitted: true });
      }
    }
  }
}
