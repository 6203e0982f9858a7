import { generateIdentity } from "@conclave/auth";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { DataplaneBots } from "./dataplane-ops.ts";
import type { Prng } from "./prng.ts";
import type { Bot, WorkloadContext } from "./workload.ts";

/** The workload's view of one room (membership-ops.ts): who owns it and whom it believes to be in it. */
export interface RoomView {
  id: string;
  owner: Bot;
  members: ReadonlySet<string>;
}

export interface DataplaneWorkloadOptions {
  /** Registered members listening at any time (a revoked one is replaced by another active member). */
  listeners: number;
  /** Each owner publishes a time-stamped message on each of its rooms this often (ms). */
  publishEveryMs: number;
  /** A connect by an unregistered or a revoked key this often (ms). */
  probeEveryMs: number;
  /** How often connections and subscriptions are brought in line with the rooms (ms). */
  syncEveryMs: number;
}

interface Listener {
  bot: Bot;
  nc?: NatsConnection;
  /** Room id → its subscription; a refused one is closed and made again at a later sync. */
  subs: Map<string, Subscription>;
}

/**
 * The data plane under the chaos workload (issue 14 items 2 and 5): each
 * owner's bot publishes on its rooms; a few registered members listen on the
 * rooms the workload believes they are in, and keep every subscription they
 * once had — the server, not the bot, must end a removed member's. The
 * removals and revocations are the membership workload's own; probes connect
 * with never-registered keys and with keys whose revocation was
 * acknowledged. Everything is recorded by DataplaneBots.
 */
export class DataplaneWorkload {
  private readonly ctx: WorkloadContext;
  private readonly bots: DataplaneBots;
  private readonly rooms: () => readonly RoomView[];
  private readonly rng: Prng;
  private readonly opts: DataplaneWorkloadOptions;
  private readonly publishers = new Map<string, NatsConnection | "joining">();
  private readonly listening = new Map<string, Listener>();
  private readonly pending = new Set<Promise<unknown>>();
  private ticker?: NodeJS.Timeout;
  private stopped = false;
  private probes = 0;

  constructor(
    ctx: WorkloadContext,
    bots: DataplaneBots,
    rooms: () => readonly RoomView[],
    rng: Prng,
    opts: DataplaneWorkloadOptions,
  ) {
    this.ctx = ctx;
    this.bots = bots;
    this.rooms = rooms;
    this.rng = rng;
    this.opts = opts;
  }

  start(): void {
    this.ticker = setInterval(() => this.publish(), this.opts.publishEveryMs);
    this.track(this.every(this.opts.syncEveryMs, () => this.sync()));
    this.track(this.every(this.opts.probeEveryMs, () => this.probe()));
  }

  /** Stops publishing and probing, and closes every bot's connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.bots.close();
  }

  private subject(room: string): string {
    return `conclave.room.${this.ctx.d.tenant}.${room}`;
  }

  private publish(): void {
    for (const room of this.rooms()) {
      const nc = this.publishers.get(room.owner.key.signPublicKey);
      if (nc && nc !== "joining") this.bots.publish(nc, this.subject(room.id));
    }
  }

  private sync(): void {
    for (const owner of this.ctx.active("owner")) {
      const key = owner.key.signPublicKey;
      if (this.publishers.has(key)) continue;
      this.publishers.set(key, "joining");
      this.track(
        this.bots.join(owner.key).then((nc) => {
          if (nc) this.publishers.set(key, nc);
          else this.publishers.delete(key);
        }),
      );
    }
    // A revoked listener keeps its connection (reconnecting, refused) but no longer counts. New
    // listeners are the members in the most rooms: their removals are the ones worth judging.
    const active = [...this.listening.values()].filter((l) => l.bot.status === "active");
    const rooms = this.rooms();
    const inRooms = (b: Bot) => rooms.filter((r) => r.members.has(b.key.signPublicKey)).length;
    const fresh = this.ctx
      .active("member")
      .filter((b) => !this.listening.has(b.key.signPublicKey) && inRooms(b) > 0)
      .sort((a, b) => inRooms(b) - inRooms(a));
    for (const bot of fresh.slice(0, Math.max(0, this.opts.listeners - active.length))) {
      const l: Listener = { bot, subs: new Map() };
      this.listening.set(bot.key.signPublicKey, l);
      this.track(
        this.bots.join(bot.key).then((nc) => {
          if (nc) l.nc = nc;
          else this.listening.delete(bot.key.signPublicKey);
        }),
      );
    }
    for (const l of this.listening.values()) {
      if (!l.nc || l.bot.status !== "active") continue;
      for (const room of rooms) {
        if (!room.members.has(l.bot.key.signPublicKey)) continue;
        const sub = l.subs.get(room.id);
        if (sub && !sub.isClosed()) continue;
        l.subs.set(room.id, this.bots.listen(l.bot.key, l.nc, { id: room.id, subject: this.subject(room.id) }));
      }
    }
  }

  /** Alternately a key never registered and one whose revocation was acknowledged (when there is one). */
  private async probe(): Promise<void> {
    const revoked = this.ctx.bots.filter((b) => b.status === "revoked");
    const bot = this.probes++ % 2 === 1 ? this.rng.pick(revoked) : undefined;
    const key =
      bot?.key ??
      generateIdentity({ name: `stranger${this.probes}`, tenant: this.ctx.d.tenant, url: "http://127.0.0.1" });
    await this.bots.probe(key);
  }

  private async every(ms: number, fn: () => void | Promise<void>): Promise<void> {
    while (!this.stopped) {
      await fn();
      await new Promise((r) => setTimeout(r, ms));
    }
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}
