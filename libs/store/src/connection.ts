import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Authenticator } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { coalesceWrites } from "./coalesced-writes.ts";
import { ConnectionGate } from "./connection-gate.ts";
import { IsolationWatch, peersIn } from "./isolated-server.ts";

export interface ConnectionOptions {
  servers: string[];
  /** Client name shown in the server's connz: service and replica. */
  name: string;
  /** Bound of every JetStream API call and publish ack. */
  opTimeoutMs: number;
  /** This process's NATS credentials (an nkey user of the services account); none: anonymous. */
  authenticator?: Authenticator | undefined;
}

export interface StoreConnection {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Every store operation passes it; it holds them while the connection leaves a lame-duck or isolated server. */
  gate: ConnectionGate;
  /**
   * Moves the connection off a server that has lost every route (isolated-server.ts).
   * Only with more than one configured URL: the peers a server gossiped leave the
   * client's pool with its routes, so a single URL leaves nowhere to go.
   */
  isolation: IsolationWatch | undefined;
}

/**
 * The one way Conclave connects to NATS: reconnect forever (a service outlives
 * any node), detect a dead or frozen server in about 4 s (2 missed pings at 2 s),
 * and bound every JetStream call by the operation timeout.
 */
export async function connectStore(opts: ConnectionOptions): Promise<StoreConnection> {
  const nc = await connect({
    servers: opts.servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    pingInterval: 2_000,
    maxPingOut: 2,
    timeout: 5_000,
    // Without it nats.js builds two Error objects (with stack traces) for every request,
    // JetStream calls included: a measurable share of a signed request's CPU here.
    noAsyncTraces: true,
    ...(opts.authenticator ? { authenticator: opts.authenticator } : {}),
  });
  // One socket write per event-loop turn, not per request (coalesced-writes.ts).
  coalesceWrites(nc);
  const js = jetstream(nc, { timeout: opts.opTimeoutMs });
  const jsm = await jetstreamManager(nc, { timeout: opts.opTimeoutMs });
  const gate = new ConnectionGate();
  void leaveLameDucks(nc, gate, opts.opTimeoutMs);
  const isolation = opts.servers.length > 1 ? leaveIsolatedServers(nc, gate, opts.opTimeoutMs) : undefined;
  return { nc, js, jsm, gate, isolation };
}

/**
 * A server entering lame-duck mode has already moved its raft leaders away
 * and stopped JetStream; it closes its clients after its grace period. We move
 * first: hold new operations, let those in flight finish (at most one
 * operation timeout), reconnect (the server no longer accepts clients, so the
 * client dials another), then let the held operations go.
 */
async function leaveLameDucks(nc: NatsConnection, gate: ConnectionGate, opTimeoutMs: number): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type !== "ldm") continue;
    void gate.move(opTimeoutMs, () => reconnectElsewhere(nc, opTimeoutMs));
  }
}

/** Feeds every INFO the server sends to the isolation watch; a move goes through the gate like a lame-duck move. */
function leaveIsolatedServers(nc: NatsConnection, gate: ConnectionGate, opTimeoutMs: number): IsolationWatch {
  const watch = new IsolationWatch(() => gate.move(opTimeoutMs, () => reconnectElsewhere(nc, opTimeoutMs)));
  watch.observe(peersIn(nc.info));
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "update" || status.type === "reconnect") watch.observe(peersIn(nc.info));
    }
    watch.stop();
  })();
  return watch;
}

/**
 * Reconnects until the client is on another server, within `timeoutMs`. The
 * client's pool can hand back the server being left (it keeps the current
 * server at the head when gossip reorders the pool: seen in the isolated-server
 * test), so it goes round again, at most once per other server.
 */
async function reconnectElsewhere(nc: NatsConnection, timeoutMs: number): Promise<void> {
  const from = nc.getServer();
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 3 && Date.now() < deadline; round++) {
    await reconnectOnce(nc, deadline - Date.now());
    if (nc.getServer() !== from) return;
  }
  throw new Error(`still on ${from} after a move`);
}

async function reconnectOnce(nc: NatsConnection, timeoutMs: number): Promise<void> {
  const reconnected = (async () => {
    for await (const status of nc.status()) if (status.type === "reconnect") return;
  })();
  await nc.reconnect();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([reconnected, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
}
