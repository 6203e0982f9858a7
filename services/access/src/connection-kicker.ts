import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";

/** Where every server answers a connection listing (the system account; contracts.md). */
export const CONNZ_SUBJECT = "$SYS.REQ.SERVER.PING.CONNZ";
/** Where one server closes one of its connections. */
export const kickSubject = (serverId: string) => `$SYS.REQ.SERVER.${serverId}.KICK`;

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
 * by the first listing that waits out the stall.
 */
export class ConnectionKicker {
  private readonly deps: ConnectionKickerDeps;
  private readonly now: () => number;
  private readonly seen = new Map<string, number>();

  constructor(deps: ConnectionKickerDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /**
   * `startedBefore` (ms since the epoch): close only the connections the servers accepted before
   * it (a follow-up sweep, live-disconnect.ts); one whose start is not given is closed too.
   */
  async kick(signPub: string, startedBefore?: number): Promise<KickResult> {
    const { system, account, stallMs, timeoutMs } = this.deps;
    const query = JSON.stringify({ user: signPub, acc: account });
    const expected = this.recentServers();
    const answers = await system.requestMany(CONNZ_SUBJECT, query, {
      strategy: "stall",
      stall: stallMs,
      maxWait: timeoutMs,
    });
    const listing = answers[Symbol.asyncIterator]();
    const answered = new Set<string>();
    const found: Connection[] = [];
    // Every server known to be there has answered: waiting out the stall would only add latency.
    while (!(expected.length > 0 && expected.every((id) => answered.has(id)))) {
      const next = await listing.next();
      if (next.done) break;
      const answer = this.parse(next.value);
      answered.add(answer.server);
      found.push(...answer.connections);
    }
    const stale = (c: Connection) => startedBefore === undefined || !(c.startedAt >= startedBefore);
    const closing = found.filter(stale);
    await Promise.all(closing.map((c) => this.close(c)));
    this.remember(answered);
    const missing = expected.filter((id) => !answered.has(id));
    if (answered.size === 0 || missing.length > 0) {
      throw new KickError(`CONNZ incomplete: no answer from ${missing.join(", ") || "any server"}`);
    }
    void this.lateAnswers(listing, signPub, stale);
    return { kicked: closing.length, servers: answered.size };
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
        this.remember([answer.server]);
        await Promise.all(answer.connections.filter(stale).map((c) => this.close(c)));
      }
    } catch (err) {
      this.deps.onLateError?.(err as Error, signPub);
    }
  }

  private parse(msg: Msg): { server: string; connections: Connection[] } {
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
      server: server.name,
      connections: connections.map((c) => ({
        server: server.id,
        cid: c.cid,
        startedAt: c.start === undefined ? Number.NaN : Date.parse(c.start),
      })),
    };
  }

  private remember(servers: Iterable<string>): void {
    const now = this.now();
    for (const id of servers) this.seen.set(id, now);
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
