import { type ServiceContext, type ServiceModule, usersTable } from "@conclave/runtime";
import { nkeyAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type AccessConfig, type LiveDisconnectConfig, loadAccessConfig } from "./access-config.ts";
import { accessMetrics, liveDisconnectMetrics } from "./access-metrics.ts";
import { type AdmissionSources, CalloutResponder } from "./callout-responder.ts";
import { ConnectionKicker, SERVER_MEMORY_MS } from "./connection-kicker.ts";
import { ConnectionRegistry } from "./connection-registry.ts";
import { IssuerKey } from "./issuer-key.ts";
import { LiveDisconnect } from "./live-disconnect.ts";
import { storeRoomsOfMember } from "./rooms-of-member.ts";

export interface AccessModuleOptions {
  /** Default: from CONCLAVE_ACCESS_* variables at register time. */
  config?: AccessConfig;
  /** Milliseconds since the epoch (tests pass a fake clock). */
  now?: () => number;
  /** Wraps the store's facts of an admission (tests hold one in flight across a change). */
  facts?: (store: AdmissionSources) => AdmissionSources;
}

/**
 * The access service: nats-server's auth callout for bots (SPEC §10). It
 * serves no routes of its own; the host gives it the store connection (a
 * services-account user listed in the callout's auth_users), /metrics and
 * the health probes.
 */
export function createAccessModule(opts: AccessModuleOptions = {}): ServiceModule {
  return {
    name: "access",
    eventSchemas: {},
    projections: [],
    async register(ctx) {
      const config = opts.config ?? loadAccessConfig();
      const users = usersTable(ctx.store);
      const registry = new ConnectionRegistry(ctx.store, config.ttlS);
      const responder = new CalloutResponder({
        nc: ctx.store.conn.nc,
        issuer: IssuerKey.fromSeed(config.issuerSeed),
        config,
        sources: (opts.facts ?? ((s) => s))({
          user: async (signPub) => (await users.get(signPub))?.value.data,
          roomsOf: storeRoomsOfMember(ctx.store),
          register: (connection, at) => registry.register(connection, at),
        }),
        metrics: accessMetrics(ctx.edge.registry),
        logger: ctx.logger,
        ...(opts.now ? { now: opts.now } : {}),
      });
      const live = config.liveDisconnect;
      const disconnect = live && (await startLiveDisconnect(ctx, config, live, registry, opts.now));
      responder.start();
      // The edge closes before the store connection (host.close): answers in flight go out first.
      ctx.edge.app.addHook("onClose", () => Promise.all([responder.stop(), disconnect?.stop()]));
      if (!live)
        ctx.logger.warn(
          "live disconnect off: a removed or revoked bot keeps its permissions until its admission expires",
        );
      ctx.logger.info({ account: config.account, queue: config.queue, ttlS: config.ttlS }, "auth callout answering");
    },
  };
}

/** The kicker on the restricted system user's own connection (another account than the store's), fed by the tables' changes. */
async function startLiveDisconnect(
  ctx: ServiceContext,
  config: AccessConfig,
  live: LiveDisconnectConfig,
  registry: ConnectionRegistry,
  now: (() => number) | undefined,
): Promise<{ stop(): Promise<void> }> {
  const system = await connect({
    servers: ctx.env.CONCLAVE_NATS_URLS,
    name: `access-kicker-${ctx.env.CONCLAVE_INSTANCE ?? "local"}`,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(live.systemSeed)),
    maxReconnectAttempts: -1,
    timeout: ctx.store.opTimeoutMs,
  });
  let stopping = false;
  const kicker = new ConnectionKicker({
    system,
    account: config.account,
    stallMs: live.connzStallMs,
    timeoutMs: ctx.store.opTimeoutMs,
    registered: (signPub, serverId) => registry.on(signPub, serverId),
    onLateError: (err, signPub) => {
      // A listing cut by our own shutdown is not a failure to report.
      if (!stopping)
        ctx.logger.warn({ err, subject: signPub }, "live disconnect: a late server's connections not closed");
    },
  });
  const disconnect = new LiveDisconnect({
    store: ctx.store,
    kick: (signPub, startedBefore) => kicker.kick(signPub, startedBefore),
    config: {
      concurrency: live.concurrency,
      maxPending: live.maxPending,
      ttlS: config.ttlS,
      decisionMs: config.decisionMs,
    },
    metrics: liveDisconnectMetrics(ctx.edge.registry),
    logger: ctx.logger,
    ...(now ? { now } : {}),
  });
  // Best effort: without it a kick waits out one CONNZ stall to find the servers. Refreshed
  // well within the kicker's memory of them, so a quiet spell does not bring the stall back.
  const learn = () =>
    kicker.learnServers().catch((err) => {
      if (!stopping) ctx.logger.warn({ err }, "live disconnect: servers not listed");
    });
  await learn();
  const relearn = setInterval(learn, SERVER_MEMORY_MS / 3);
  disconnect.start();
  return {
    async stop() {
      stopping = true;
      clearInterval(relearn);
      await disconnect.stop();
      kicker.stop();
      await system.close();
    },
  };
}
