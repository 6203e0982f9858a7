import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { z } from "zod";

/** Where every server answers a connection listing (the system account; contracts.md). */
export const CONNZ_SUBJECT = "$SYS.REQ.SERVER.PING.CONNZ";
/** Where one server closes one of its connections. */
export const kickSubject = (serverId: string) => `$SYS.REQ.SERVER.${serverId}.KICK`;
/** Where each server says it enters lame-duck mode: the last thing its system account sends. */
export const LAME_DUCK_SUBJECT = "$SYS.SERVER.*.LAMEDUCK";

const connzAnswer = z.object({
  server: z.object({ id: z.string().min(1), name: z.string().min(1) }),
  data: z
    .object({
      limit: z.number().int().positive().optional(),
      connections: z.array(z.object({ cid: z.number().int().positive(), start: z.string().optional() })).nullish(),
    })
    .optional(),
  error: z.object({ code: z.number().optional(), description: z.string().optional() }).optional(),
});
const kickAnswer = z.object({ error: z.object({ description: z.string().optional() }).optional() });
const lameDuckEvent = z.object({ id: z.string().min(1), name: z.string().min(1) });

export class KickError extends Error {
  override readonly name = "KickError";
}

export interface KickResult {
  /** Connections found and closed, on every server that answered. */
  kicked: number;
  /** Servers that answered the listing. */
  servers: number;
}

export interface ConnectionKickerDeps {
  /** A connection of the restricted system user: it may publish CONNZ and KICK requests only. */
  system: NatsConnection;
  /** The account bots are admitted into: only its connections are listed, never a service's. */
  account: string;
  /** A listing is over once no server has answered for this long. */
  stallMs: number;
  /** Bound of a whole listing, and of each kick. */
  timeoutMs: number;
  /**
   * The bot's connections admitted on a server, and when (ConnectionRegistry): what a server in
   * lame-duck mode holds, as it answers no listing. Without it such a server fails the kick.
   */
  registered?: (signPub: string, serverId: string) => Promise<{ cid: number; at: number }[]>;
  /** A late server's answer that could not be acted on (the kick itself had already succeeded). */
  onLateError?: (err: Error, signPub: string) => void;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

interface Connection {
  server: string;
  cid: number;
  /** When the server accepted it (its clock, ms since the epoch); NaN when it did not say. */
  startedAt: number;
}

// A server that answered recently and not this time: its connections would be missed, so the
// listing counts as incomplete and is retried. Known by name: a restarted server has a new id.
// Forgotten after this long (a server gone, or cut off from ours: kicks stop failing on it, and
// what it holds is bounded by the admission lifetime); learnServers() refreshes the rest.
export const SERVER_MEMORY_MS = 60_000;
// Not a sign_pub (those are 43 base64url characters): no bot's connection has this name.
const PRIME_USER = "conclave-kicker-learns-servers";

/**
 * Finds a bot's connections on every server (its admission names the
 * connection after its sign_pub) and closes each, so the client reconnects
 * and the callout decides anew. Each server answers a CONNZ ping; there is no
 * count of servers to wait for: the servers seen answering lately are the
 * ones expected (the listing ends as soon as all have answered, else when
 * answers stall), and a listing that misses one of them is an error, retried,
 * rather than a kick that silently skipped a server. A new server is found
 * by the first listing that waits out the stall. A server in lame-duck mode
 * (heard from its event) answers no listing but still acts on a KICK: its
 * connections of the bot come from the callout's registry (`registered`).
 */
export class ConnectionKicker {
  private readonly deps: ConnectionKickerDeps;
  private readonly now: () => number;
  private readonly seen = new Map<string, number>();
  /** Servers in lame-duck mode, by name: their id and when they said so. */
  private readonly draining = new Map<string, { id: string; at: number }>();
  private readonly lameDucks: Subscription;

  constructor(deps: ConnectionKickerDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.lameDucks = deps.system.subscribe(LAME_DUCK_SUBJECT, {
      callback: (err, msg) => {
        const event = err ? undefined : lameDuckEvent.safeParse(msg.json());
        if (event?.success) this.draining.set(event.data.name, { id: event.data.id, at: this.now() });
      },
    });
  }

  /** Stops hearing of servers entering lame-duck mode. */
  stop(): void {
    this.lameDucks.unsubscribe();
  }

  /**
   * `startedBefore` (ms since the epoch): close only the connections the servers accepted before
   * it (a follow-up sweep, live-disconnect.ts); one whose start is not given is closed too.
   */
  async kick(signPub: string, startedBefore?: number): Promise<KickResult> {
    const { system, account, stallMs, timeoutMs } = this.deps;
    const query = JSON.stringify({ user: signPub, acc: account });
    const expected = this.recentServers();
    // A server in lame-duck mode answers nothing: waiting for it would only wait out the stall.
    const drainingAtStart = this.drainingServers();
    const awaited = expected.filter((name) => !drainingAtStart.has(name));
    const answers = await system.requestMany(CONNZ_SUBJECT, query, {
      strategy: "stall",
      stall: stallMs,
      maxWait: timeoutMs,
    });
    const listing = answers[Symbol.asyncIterator]();
    /** Name → id of every server that answered. */
    const answered = new Map<string, string>();
    const found: Connection[] = [];
    // Every server known to be there has answered: waiting out the stall would only add latency.
    while (!(awaited.length > 0 && awaited.every((name) => answered.has(name)))) {
      const next = await listing.next();
      if (next.done) break;
      const answer = this.parse(next.value);
      answered.set(answer.name, answer.id);
      found.push(...answer.connections);
    }
    const stale = (c: Connection) => startedBefore === undefined || !(c.startedAt >= startedBefore);
    this.remember(answered);
    // Every draining server that did not answer (known or not): what it holds comes from the registry.
    const drained = this.deps.registered ? [...this.drainingServers()].filter(([name]) => !answered.has(name)) : [];
    const fromRegistry = await Promise.all(drained.map(([, id]) => this.registeredOn(signPub, id)));
    const closing = found.filter(stale);
    const unanswerable = fromRegistry.flat().filter(stale);
    await Promise.all([...closing.map((c) => this.close(c)), ...unanswerable.map((c) => this.closeUnanswered(c))]);
    const listed = new Set([...answered.keys(), ...drained.map(([name]) => name)]);
    const missing = expected.filter((name) => !listed.has(name));
    if (listed.size === 0 || missing.length > 0) {
      throw new KickError(`CONNZ incomplete: no answer from ${missing.join(", ") || "any server"}`);
    }
    void this.lateAnswers(listing, signPub, stale);
    return { kicked: closing.length + unanswerable.length, servers: listed.size };
  }

  /** Servers that said they entered lame-duck mode within the memory, name → id. */
  private drainingServers(): Map<string, string> {
    const now = this.now();
    const out = new Map<string, string>();
    for (const [name, { id, at }] of this.draining) {
      if (now - at >= SERVER_MEMORY_MS) this.draining.delete(name);
      else out.set(name, id);
    }
    return out;
  }

  private async registeredOn(signPub: string, serverId: string): Promise<Connection[]> {
    const entries = (await this.deps.registered?.(signPub, serverId)) ?? [];
    return entries.map(({ cid, at }) => ({ server: serverId, cid, startedAt: at }));
  }

  /**
   * The rest of a listing that ended early: a server that joined since the
   * last full listing answers here; its connections of the bot are closed
   * too, and it is expected from then on.
   */
  private async lateAnswers(
    listing: AsyncIterator<Msg>,
    signPub: string,
    stale: (c: Connection) => boolean,
  ): Promise<void> {
    try {
      for (let next = await listing.next(); !next.done; next = await listing.next()) {
        const answer = this.parse(next.value);
        this.remember(new Map([[answer.name, answer.id]]));
        await Promise.all(answer.connections.filter(stale).map((c) => this.close(c)));
      }
    } catch (err) {
      this.deps.onLateError?.(err as Error, signPub);
    }
  }

  private parse(msg: Msg): { name: string; id: string; connections: Connection[] } {
    const parsed = connzAnswer.safeParse(msg.json());
    if (!parsed.success) throw new KickError(`CONNZ answer not understood: ${parsed.error.message}`);
    const { server, data, error } = parsed.data;
    if (error || !data) throw new KickError(`CONNZ refused by ${server.id}: ${error?.description ?? "no data"}`);
    const connections = data.connections ?? [];
    // One page (1,024) is far more than one bot may hold; a full page is not silently taken as all.
    // (`total` counts the account's connections before the user filter: no use here.)
    if (data.limit !== undefined && connections.length >= data.limit) {
      throw new KickError(`CONNZ of ${server.id} paged`);
    }
    return {
      name: server.name,
      id: server.id,
      connections: connections.map((c) => ({
        server: server.id,
        cid: c.cid,
        startedAt: c.start === undefined ? Number.NaN : Date.parse(c.start),
      })),
    };
  }

  /** Servers that answered, name → id. */
  private remember(servers: ReadonlyMap<string, string>): void {
    const now = this.now();
    for (const [name, id] of servers) {
      this.seen.set(name, now);
      // Restarted under the same name (a new id): no longer in lame-duck mode. An answer of the
      // draining server itself, sent before its event, may be read after it: that one stays.
      if (this.draining.has(name) && this.draining.get(name)?.id !== id) this.draining.delete(name);
    }
  }

  /**
   * Learns the servers with a listing that matches no connection (no sign_pub
   * is this name), so the first real kick need not wait out the stall.
   */
  async learnServers(): Promise<number> {
    return (await this.kick(PRIME_USER)).servers;
  }

  /** Servers that answered within the memory: the ones a listing must hear from to be complete. */
  private recentServers(): string[] {
    const now = this.now();
    for (const [id, at] of this.seen) if (now - at >= SERVER_MEMORY_MS) this.seen.delete(id);
    return [...this.seen.keys()];
  }

  /**
   * A KICK to a server in lame-duck mode: it acts on it (measured: 23 of 23 closed within 2 ms,
   * 0.05–3.5 s after SIGUSR2) but sends no answer, and acts only on a request with a reply
   * subject (one without is ignored). Sent, not awaited; a follow-up sweep sends it again.
   */
  private async closeUnanswered({ server, cid }: Connection): Promise<void> {
    this.deps.system.publish(kickSubject(server), JSON.stringify({ cid }), { reply: createInbox() });
    await this.deps.system.flush();
  }

  private async close({ server, cid }: Connection): Promise<void> {
    const reply = await this.deps.system.request(kickSubject(server), JSON.stringify({ cid }), {
      timeout: this.deps.timeoutMs,
    });
    const parsed = kickAnswer.safeParse(reply.json());
    const error = parsed.success ? parsed.data.error : { description: "answer not understood" };
    // Gone already (closed, or kicked by an earlier attempt): what we wanted.
    if (error && !/no such client|not found/i.test(error.description ?? "")) {
      throw new KickError(`KICK ${cid} on ${server}: ${error.description ?? "refused"}`);
    }
  }
}
