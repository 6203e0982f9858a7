import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

export interface ConnectionOptions {
  servers: string[];
  /** Client name shown in the server's connz: service and replica. */
  name: string;
  /** Bound of every JetStream API call and publish ack. */
  opTimeoutMs: number;
}

export interface StoreConnection {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
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
  });
  const js = jetstream(nc, { timeout: opts.opTimeoutMs });
  const jsm = await jetstreamManager(nc, { timeout: opts.opTimeoutMs });
  return { nc, js, jsm };
}
