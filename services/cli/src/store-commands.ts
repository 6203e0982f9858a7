import type { KeyFile } from "@conclave/auth";
import { blobModule } from "@conclave/blob";
import { gatewayModule } from "@conclave/gateway";
import { membershipModule, UserCommands, userIndexEntry, usersProjection } from "@conclave/membership";
import { type ServiceModule, usersTable } from "@conclave/runtime";
import {
  compareProjection,
  EventLog,
  orderedConsumer,
  type Projection,
  ProjectionRunner,
  projected,
  rebuildProjection,
  STREAMS,
  Store,
  type TableDifference,
} from "@conclave/store";
import { DeliverPolicy } from "@nats-io/jetstream";
import type { Authenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

// Operator commands that talk to NATS directly (no admin exists yet, or they
// work below the HTTP API): bootstrap, events tail, projections rebuild.

// Every service's event schemas and projections, from the service modules themselves: a projection a service
// adds is one the CLI can tail and rebuild, with no list here to forget it in.
const MODULES: ServiceModule[] = [membershipModule, gatewayModule, blobModule];

/** Looked up by a command-line argument: a Map, so `rebuild constructor` names nothing (issue 15). */
export const PROJECTIONS: ReadonlyMap<string, Projection> = new Map(
  MODULES.flatMap((m) => m.projections).map((p) => [p.name, p]),
);

/**
 * Replicas for buckets and streams when the operator gave none: the size of
 * the cluster the server belongs to, as its INFO tells (the cluster name, and
 * the client URLs of the peers it has routes to), rounded down to 5 or 3. A
 * lone server gets 1. A clustered server whose peers cannot all be seen (a
 * node down, URLs not advertised) gets no guess: the flag is required. Before
 * this, `bootstrap` created R1 buckets on a 3-node cluster unless told otherwise.
 */
export async function clusterReplicas(servers: string[], authenticator?: Authenticator): Promise<number> {
  const nc = await connect({ servers, name: "conclave-cli-probe", ...(authenticator ? { authenticator } : {}) });
  try {
    const info = nc.info;
    if (!info?.cluster) return 1;
    const peers = new Set(info.connect_urls ?? []).size;
    if (peers >= 5) return 5;
    if (peers >= 3) return 3;
    throw new Error(
      `the NATS server is in cluster ${info.cluster} but sees ${peers} client URL(s): pass --replicas (3 or 5)`,
    );
  } finally {
    await nc.close();
  }
}

export async function withStore<T>(
  opts: { nats: string[]; replicas: number | undefined; authenticator?: Authenticator | undefined },
  fn: (store: Store, log: EventLog) => Promise<T>,
): Promise<T> {
  const replicas = opts.replicas ?? (await clusterReplicas(opts.nats, opts.authenticator));
  const store = await Store.connect({
    servers: opts.nats,
    name: "conclave-cli",
    replicas,
    authenticator: opts.authenticator,
  });
  try {
    const schemas = Object.assign({}, ...MODULES.map((m) => m.eventSchemas));
    const log = new EventLog(store.conn, schemas, { opTimeoutMs: store.opTimeoutMs });
    return await fn(store, log);
  } finally {
    await store.close();
  }
}

/** Creates the first admin from a key file; refuses when Conclave is already bootstrapped with another admin. */
export async function bootstrap(store: Store, log: EventLog, admin: KeyFile) {
  await store.provision();
  const projection = new ProjectionRunner(store, log, usersProjection);
  projection.start();
  try {
    const users = new UserCommands({
      log,
      users: usersTable(store),
      index: store.table("userIndex", projected(userIndexEntry)),
      projection,
    });
    return await users.bootstrap({
      sign_pub: admin.signPublicKey,
      kex_pub: admin.kexPublicKey,
      tenant: admin.tenant,
      role: "operator",
      scopes: [],
      name: admin.name,
    });
  } finally {
    await projection.stop();
  }
}

/** Replays the log into twin buckets and compares them with the live read models. */
export async function rebuild(
  store: Store,
  log: EventLog,
  name: string,
): Promise<{ applied: number; differences: TableDifference[] }> {
  const projection = PROJECTIONS.get(name);
  if (!projection) throw new Error(`unknown projection ${name} (known: ${[...PROJECTIONS.keys()].join(", ")})`);
  const applied = await rebuildProjection(store, log, projection);
  return { applied, differences: await compareProjection(store, projection) };
}

/** Prints events from the log (optionally of one aggregate type), following new ones if asked. */
export async function tail(
  store: Store,
  opts: { from?: number; subject?: string; follow: boolean; limit: number },
  onEvent: (e: { seq: number; subject: string; event: unknown }) => void,
): Promise<void> {
  const consumer = await orderedConsumer(store.conn.js, STREAMS.events.name, {
    filter_subjects: [opts.subject ?? STREAMS.events.subjects[0]],
    ...(opts.from
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.from }
      : { deliver_policy: DeliverPolicy.All }),
  });
  const messages = await consumer.consume();
  let seen = 0;
  for await (const m of messages) {
    onEvent({ seq: m.seq, subject: m.subject, event: m.json() });
    seen++;
    if ((!opts.follow && m.info.pending === 0) || seen >= opts.limit) break;
  }
  messages.stop();
}
