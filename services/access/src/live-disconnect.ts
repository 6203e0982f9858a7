import { BUCKETS, backoffMs, followLeader, type Store, withDeadline } from "@conclave/store";
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { z } from "zod";
import type { LiveDisconnectMetrics } from "./access-metrics.ts";
import {
  deletedRoomMembersFilter,
  kicksOfChange,
  memberOfMemberRoomKey,
  type TableChange,
  WATCHED_TABLES,
  type WatchedTable,
} from "./change-kicks.ts";
import type { KickResult } from "./connection-kicker.ts";
import { KickQueue } from "./kick-queue.ts";

// A change held this long without an ack goes to another replica; a slow one keeps it with progress acks.
// Short, like the projection's (projection-runner.ts): a change handed to a pull request whose
// replica sits behind a partition goes nowhere and comes back only after this (10 s was seen
// as 5-11 s late kicks after a partition healed in the chaos smoke).
const ACK_WAIT_MS = 2_000;
// A pull request lives this long at the consumer leader: one from a replica cut off stops
// taking changes after it, not after nats.js's default 30 s.
const PULL_EXPIRES_MS = 4_000;
const OPERATION = "KV-Operation";
/** The first follow-up sweep after a kick (see `sweepsAfter`): most admissions in flight have landed by then. */
const EARLY_SWEEP_MS = 250;
/** Beyond the decision bound, what a late admission may still take to register at its server. */
const REGISTRATION_MARGIN_MS = 1_000;

export interface LiveDisconnectDeps {
  store: Store;
  /** `startedBefore` (ms since the epoch): only the connections the servers accepted before it. */
  kick(signPub: string, startedBefore?: number): Promise<KickResult>;
  /** `decisionMs`: the callout's decision bound (CONCLAVE_ACCESS_DECISION_MS), which fixes the follow-up sweeps. */
  config: { concurrency: number; maxPending: number; ttlS: number; decisionMs: number };
  metrics: LiveDisconnectMetrics;
  logger: Logger;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

/** The durable consumer of a watched table's KV stream: its name is the checkpoint every replica shares. */
export const kickDurable = (table: WatchedTable) => `access_kick_${table}`;

/**
 * Closes bots' connections when a committed change to the tables the callout
 * reads makes them stale (docs/dataplane.md, "Live disconnect"). It reads the
 * tables' KV streams, not the requests: a write is there only once the
 * projection has made it, so the bot's reconnect is decided on the new state,
 * whenever it comes. One durable consumer per table, shared by every replica:
 * each change is handled by one replica (acked once its bots are kicked, or
 * redelivered), not by all of them, which would list every bot N times and
 * kick its fresh connection again. The consumer is the checkpoint: a replica
 * that stops or loses its feed resumes where the cluster left off.
 */
export class LiveDisconnect {
  private readonly deps: LiveDisconnectDeps;
  private readonly now: () => number;
  private readonly queue: KickQueue<KickResult>;
  private readonly memberRooms: ReturnType<Store["table"]>;
  private stopped = false;
  private readonly feeds = new Map<WatchedTable, ConsumerMessages>();
  private loops: Promise<void>[] = [];
  private readonly handling = new Set<Promise<void>>();
  /** Pending follow-up waits, woken (to give up) by stop(). */
  private readonly wakers = new Set<() => void>();

  constructor(deps: LiveDisconnectDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.queue = new KickQueue(deps.config.concurrency, (signPub, before) => deps.kick(signPub, before));
    this.memberRooms = deps.store.table("memberRooms", z.unknown());
    deps.metrics.backlog(() => this.queue.backlog);
  }

  start(): void {
    this.stopped = false;
    this.loops = WATCHED_TABLES.map((table) => this.run(table));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.wakers]) wake();
    for (const feed of this.feeds.values()) feed.stop();
    await Promise.all(this.loops);
    await Promise.allSettled([...this.handling]);
  }

  private stream(table: WatchedTable) {
    const bucket = BUCKETS[table].name;
    return { name: `KV_${bucket}`, prefix: `$KV.${bucket}.` };
  }

  private async ensureConsumer(table: WatchedTable): Promise<void> {
    const { jsm } = this.deps.store.conn;
    const stream = this.stream(table).name;
    await withDeadline("kick consumer", this.deps.store.opTimeoutMs, async () => {
      const existing = await jsm.consumers.info(stream, kickDurable(table)).catch(() => undefined);
      if (existing) {
        // Made by an earlier version with a longer ack wait: converge.
        if (existing.config.ack_wait !== ACK_WAIT_MS * 1_000_000) {
          await jsm.consumers.update(stream, kickDurable(table), { ack_wait: ACK_WAIT_MS * 1_000_000 });
        }
        return;
      }
      await jsm.consumers.add(stream, {
        durable_name: kickDurable(table),
        ack_policy: AckPolicy.Explicit,
        // Only what is committed from now on: older admissions were decided on newer state or have expired.
        deliver_policy: DeliverPolicy.New,
        ack_wait: ACK_WAIT_MS * 1_000_000,
        // A storm of changes waits in the stream, not in this process: at most this many are out at once.
        max_ack_pending: this.deps.config.maxPending,
        num_replicas: 0,
      });
    });
  }

  // Whatever ends the feed (reconnect, node loss, a deleted consumer), re-attach and carry on from the checkpoint.
  private async run(table: WatchedTable): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      let leader: ReturnType<typeof followLeader> | undefined;
      try {
        await this.ensureConsumer(table);
        const stream = this.stream(table).name;
        const consumer = await this.deps.store.conn.js.consumers.get(stream, kickDurable(table));
        const feed = await consumer.consume({
          max_messages: this.deps.config.maxPending,
          expires: PULL_EXPIRES_MS,
          idle_heartbeat: 1_000,
        });
        this.feeds.set(table, feed);
        if (this.stopped) feed.stop();
        // Our pull stays with the old leader (a planned restart moves it): pull from the new one at
        // once instead of after two missed heartbeats, up to 3 s of changes not kicked.
        leader = followLeader(this.deps.store.conn.nc, stream, kickDurable(table), feed);
        for await (const msg of feed) {
          attempt = 0;
          // Not awaited: kicks of different bots overlap, bounded by the queue and max_ack_pending.
          this.track(this.handle(table, msg));
        }
      } catch (err) {
        this.deps.logger.warn({ err, table }, "live disconnect: change feed interrupted");
      } finally {
        leader?.stop();
      }
      if (!this.stopped) {
        this.deps.metrics.feedRestarted(table);
        if (!leader?.moved) await new Promise((r) => setTimeout(r, backoffMs(attempt, 100, 2_000)));
      }
    }
  }

  private async handle(table: WatchedTable, msg: JsMsg): Promise<void> {
    const committedMs = msg.info.timestampNanos / 1e6;
    // Every admission older than this has expired by itself: nothing left to close.
    if (this.now() - committedMs > this.deps.config.ttlS * 1_000) {
      this.deps.metrics.change(table, "expired");
      msg.ack();
      return;
    }
    const holding = setInterval(() => msg.working(), ACK_WAIT_MS / 3);
    try {
      const operation = msg.headers?.get(OPERATION);
      const change: TableChange = {
        table,
        key: msg.subject.slice(this.stream(table).prefix.length),
        removed: operation === "DEL" || operation === "PURGE",
        value: msg.data,
      };
      const who = await this.whoseConnections(change);
      const sweptAt = this.now();
      const kicked = await this.sweep(who);
      if (who.length > 0) this.deps.metrics.kicked(table, kicked, (this.now() - committedMs) / 1_000);
      msg.ack();
      this.deps.metrics.change(table, who.length > 0 ? "kicked" : "none");
      if (who.length > 0) this.track(this.followUp(table, who, sweptAt, committedMs));
    } catch (err) {
      this.deps.metrics.change(table, "failed");
      this.deps.logger.warn({ err, table, seq: msg.seq }, "live disconnect: kick failed, retried");
      // Redelivered (to any replica) after a backoff; retried until it is older than an admission.
      msg.nak(Math.round(250 + backoffMs(msg.info.deliveryCount, 250, 5_000)));
    } finally {
      clearInterval(holding);
    }
  }

  /** Closes these bots' connections (started before `startedBefore`, if given) on every server; how many. */
  private async sweep(who: string[], startedBefore?: number): Promise<number> {
    const results = await Promise.all(who.map((signPub) => this.queue.submit(signPub, startedBefore)));
    return results.reduce((sum, r) => sum + r.kicked, 0);
  }

  /**
   * An admission in flight when the change committed read the facts before it, and its
   * connection may register at its server only after the first sweep listed the bot's
   * connections: it would keep the old permissions for its whole lifetime. Such a connection
   * registers within the callout's decision bound (plus the server's handling) of the commit,
   * so two more sweeps close it: one soon (the usual case, inside the data plane's 1 s bound),
   * one once that bound has passed (the guarantee). They close only connections the servers
   * accepted before the first sweep began (`sweptAt`): a stale one started before its facts were
   * read, so before the commit; the bot's reconnects after the first kick started after it and
   * were decided on the new state, so they are left alone (servers' clocks are taken to agree
   * with ours to within the commit-to-sweep delay). They run after the change is acked, so a
   * storm of changes drains at the first sweep's pace; a replica that dies within those 2.5 s
   * leaves such a connection to its lifetime (two faults at once: the race and the death). A
   * sweep that fails (a known server silent) is retried with a backoff, like a change's kick,
   * until the change is older than an admission: by then every admission decided before it ran out.
   */
  private async followUp(table: WatchedTable, who: string[], sweptAt: number, committedMs: number): Promise<void> {
    let late = 0;
    for (const waitMs of sweepsAfter(this.deps.config.decisionMs)) {
      if (!(await this.pause(waitMs))) return;
      for (let attempt = 0; ; attempt++) {
        try {
          late += await this.sweep(who, sweptAt);
          break;
        } catch (err) {
          const expired = this.now() - committedMs > this.deps.config.ttlS * 1_000;
          this.deps.logger.warn({ err, table, expired }, "live disconnect: follow-up sweep failed");
          if (expired || !(await this.pause(backoffMs(attempt, 250, 5_000)))) return;
        }
      }
    }
    if (late > 0) this.deps.metrics.lateAdmissions(table, late);
  }

  /** Waits `ms`; false when stop() came first. */
  private pause(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve(false);
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve(!this.stopped);
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.handling.delete(tracked));
    this.handling.add(tracked);
  }

  private async whoseConnections(change: TableChange): Promise<string[]> {
    const filter = deletedRoomMembersFilter(change);
    if (!filter) return kicksOfChange(change);
    // A deleted room: its members as the reverse index lists them, deleted entries included.
    const keys = await this.memberRooms.keysWithHistory(filter);
    return [...new Set(keys.map(memberOfMemberRoomKey).filter((m) => m !== undefined))];
  }
}

/** The waits before each follow-up sweep after a kick (LiveDisconnect.followUp). */
export function sweepsAfter(decisionMs: number): number[] {
  return [EARLY_SWEEP_MS, Math.max(0, decisionMs + REGISTRATION_MARGIN_MS - EARLY_SWEEP_MS)];
}
