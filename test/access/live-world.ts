import { type AccessModuleOptions, createAccessModule, loadAccessConfig } from "@conclave/access";
import type { KeyFile } from "@conclave/auth";
import { membershipModule } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import { eventually, type NatsCluster } from "@conclave/testkit";
import { nkeyAuthenticator } from "@nats-io/nats-core";
import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
import { signedFetch } from "../support/signed-client.ts";
import type { BotConnection } from "./bot-probe.ts";
import { calloutEnv, dataplaneHostEnv } from "./dataplane-hosts.ts";

/**
 * Membership and two callout replicas with live disconnect on a data-plane
 * server (the harness cluster, libs/testkit): what the live-disconnect tests and
 * the removal-to-effect benchmark share. Every change goes through the HTTP
 * API, so "the 2xx" is the answer a client gets.
 */
export interface LiveWorld {
  membership: Host;
  callouts: Host[];
  close(): Promise<void>;
}

/** One callout replica with live disconnect (the system user's seed), in-process. */
export function startCallout(
  nats: NatsCluster,
  instance: string,
  logLevel = "warn",
  opts: Omit<AccessModuleOptions, "config"> = {},
  extraEnv: Record<string, string> = {},
): Promise<Host> {
  const env = calloutEnv(nats, { CONCLAVE_INSTANCE: `access-${instance}`, ...extraEnv }, logLevel);
  return startHost({
    env: loadServiceEnv(env),
    modules: [createAccessModule({ ...opts, config: loadAccessConfig(env) })],
  });
}

/**
 * `calloutOpts`: the replicas' module options, one entry each (default: two plain replicas);
 * `calloutEnv`: more of their environment (say, CONCLAVE_NATS_URLS to keep them off a server).
 */
export async function startLiveWorld(
  nats: NatsCluster,
  logLevel = "warn",
  calloutOpts: Omit<AccessModuleOptions, "config">[] = [{}, {}],
  calloutEnv: Record<string, string> = {},
): Promise<LiveWorld> {
  const membership = await startHost({
    env: loadServiceEnv(dataplaneHostEnv(nats, "membership", logLevel)),
    modules: [membershipModule],
  });
  const callouts: Host[] = [];
  for (const [i, opts] of calloutOpts.entries()) {
    callouts.push(await startCallout(nats, String.fromCharCode(97 + i), logLevel, opts, calloutEnv));
  }
  return {
    membership,
    callouts,
    async close() {
      for (const c of callouts) await c.close();
      await membership.close();
    },
  };
}

/** A connection of the cluster's restricted system user (it may list and close connections). */
export function connectSystem(nats: NatsCluster, opts: ConnectionOptions = {}): Promise<NatsConnection> {
  return connect({
    servers: nats.urls,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(nats.credentials.system)),
    ...opts,
  });
}

/** A signed call to membership that must succeed; the time its 2xx arrived (performance.now()). */
export async function call(world: LiveWorld, who: KeyFile, method: string, path: string, body?: unknown) {
  const res = await signedFetch(world.membership.url, who, method, path, body);
  const at = performance.now();
  if (res.status < 200 || res.status > 299)
    throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  return at;
}

/** A counter of every callout replica's /metrics, summed (`name{labels}` as printed). */
export async function metricSum(world: LiveWorld, series: string): Promise<number> {
  let sum = 0;
  for (const c of world.callouts) {
    const text = await (await fetch(`${c.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    sum += Number(line?.split(" ")[1] ?? 0);
  }
  return sum;
}

/** Messages a connection received on a subject, with the publish time each carried. */
export interface Deliveries {
  publishedAt: number[];
  stop(): void;
}

export function record(bot: BotConnection, subject: string): Deliveries {
  const publishedAt: number[] = [];
  const sub = bot.nc.subscribe(subject, {
    callback: (err, m) => {
      if (!err) publishedAt.push(Number(m.string()));
    },
  });
  return { publishedAt, stop: () => sub.unsubscribe() };
}

/** Publishes the current time on `subject` every `everyMs`, until stopped. */
export function ticker(bot: BotConnection, subject: string, everyMs = 5) {
  const timer = setInterval(() => bot.nc.publish(subject, String(performance.now())), everyMs);
  return { stop: () => clearInterval(timer) };
}

/**
 * Waits until each connection receives the ticker's messages on the subject
 * (after a kick and reconnect, the new admission must include the room).
 */
export async function receiving(bots: BotConnection[], subject: string, timeoutMs = 20_000): Promise<void> {
  await Promise.all(
    bots.map((bot) =>
      eventually(
        async () => {
          const d = record(bot, subject);
          try {
            await bot.nc.flush();
            await eventually(
              async () => {
                if (d.publishedAt.length === 0) throw new Error(`not receiving ${subject}`);
              },
              500,
              20,
            );
          } finally {
            d.stop();
          }
        },
        timeoutMs,
        100,
      ),
    ),
  );
}

export interface RemovalSample {
  /** From sending the removal to the last message delivered to the removed bot (ms). */
  effectMs: number;
  /** Publish time of the last message any of the removed bot's connections received, after the 2xx (ms, may be < 0). */
  lastDeliveryMs: number;
  /** Messages delivered to it that were published more than `boundMs` after the 2xx: must be none. */
  late: number;
}

/**
 * One removal, measured: the removed bot listens on the room on every
 * connection while the ticker publishes; the owner removes it over HTTP;
 * publishing goes on for `boundMs` + 500 ms after the 2xx.
 */
export async function measureRemoval(
  world: LiveWorld,
  opts: { owner: KeyFile; room: string; subject: string; victim: KeyFile; conns: BotConnection[]; boundMs: number },
): Promise<RemovalSample> {
  const listening = opts.conns.map((c) => record(c, opts.subject));
  await Promise.all(opts.conns.map((c) => c.nc.flush()));
  const sent = performance.now();
  const ok = await call(world, opts.owner, "DELETE", `/v1/rooms/${opts.room}/members/${opts.victim.signPublicKey}`);
  await new Promise((r) => setTimeout(r, opts.boundMs + 500));
  for (const l of listening) l.stop();
  const delivered = listening.flatMap((l) => l.publishedAt);
  const last = delivered.length > 0 ? Math.max(...delivered) : sent;
  const after = delivered.map((t) => t - ok);
  return {
    effectMs: last - sent,
    lastDeliveryMs: last - ok,
    late: after.filter((t) => t > opts.boundMs).length,
  };
}

/**
 * `count` removals of `victim` from a room where `publisher` keeps publishing, each followed by its
 * re-invite (which kicks it again, to come back with the room) and a wait until it receives again.
 */
export async function removals(
  world: LiveWorld,
  opts: Parameters<typeof measureRemoval>[1] & { publisher: BotConnection; count: number },
): Promise<RemovalSample[]> {
  const tick = ticker(opts.publisher, opts.subject);
  const samples: RemovalSample[] = [];
  try {
    for (let i = 0; i < opts.count; i++) {
      await receiving(opts.conns, opts.subject);
      samples.push(await measureRemoval(world, opts));
      await call(world, opts.owner, "POST", `/v1/rooms/${opts.room}/members`, {
        member: opts.victim.signPublicKey,
        role: "member",
      });
    }
  } finally {
    tick.stop();
  }
  return samples;
}
