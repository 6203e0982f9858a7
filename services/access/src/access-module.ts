import { type ServiceModule, usersTable } from "@conclave/runtime";
import { type AccessConfig, loadAccessConfig } from "./access-config.ts";
import { accessMetrics } from "./access-metrics.ts";
import { CalloutResponder } from "./callout-responder.ts";
import { IssuerKey } from "./issuer-key.ts";
import { storeRoomsOfMember } from "./rooms-of-member.ts";

export interface AccessModuleOptions {
  /** Default: from CONCLAVE_ACCESS_* variables at register time. */
  config?: AccessConfig;
  /** Milliseconds since the epoch (tests pass a fake clock). */
  now?: () => number;
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
    register(ctx) {
      const config = opts.config ?? loadAccessConfig();
      const users = usersTable(ctx.store);
      const responder = new CalloutResponder({
        nc: ctx.store.conn.nc,
        issuer: IssuerKey.fromSeed(config.issuerSeed),
        config,
        sources: {
          user: async (signPub) => (await users.get(signPub))?.value.data,
          roomsOf: storeRoomsOfMember(ctx.store),
          confirm: () => ctx.store.witness.confirm(),
        },
        metrics: accessMetrics(ctx.edge.registry),
        logger: ctx.logger,
        ...(opts.now ? { now: opts.now } : {}),
      });
      responder.start();
      // The edge closes before the store connection (host.close): answers in flight go out first.
      ctx.edge.app.addHook("onClose", () => responder.stop());
      ctx.logger.info({ account: config.account, queue: config.queue, ttlS: config.ttlS }, "auth callout answering");
    },
  };
}
