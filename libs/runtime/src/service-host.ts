import { hostname } from "node:os";
import { type AuthenticatorDeps, conclavePolicy, type NonceClaim, PublicKeyCache } from "@conclave/auth";
import { createEdge, type Edge } from "@conclave/http";
import { EventLog, type EventSchemas, type Projection, ProjectionRunner, Store } from "@conclave/store";
import { type Logger, pino } from "pino";
import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import { z } from "zod";
import type { ServiceEnv } from "./config.ts";
import { natsAuthenticator } from "./nats-credentials.ts";
import { principalLookup } from "./principal-lookup.ts";
import { registerSignedRequestAuth } from "./signed-request-hook.ts";
import { projectionLagGauge, storageGauges, storeMetrics } from "./store-metrics.ts";

/** What a service module receives to register its routes. */
export interface ServiceContext {
  store: Store;
  log: EventLog;
  logger: Logger;
  env: ServiceEnv;
  /** Runners of every projection in this process, by projection name. */
  projections: Map<string, ProjectionRunner>;
  edge: Edge;
}

/** One service's contribution: its events, its projections and its routes. */
export interface ServiceModule {
  name: string;
  eventSchemas: EventSchemas;
  projections: Projection[];
  register(ctx: ServiceContext): void | Promise<void>;
}

export interface Host {
  ctx: ServiceContext;
  /** The bound URL, e.g. http://127.0.0.1:7420. */
  url: string;
  close(): Promise<void>;
}

/**
 * Assembles and starts one process serving the given modules (one module for a
 * service deployed alone, all three for the local start): store, event log,
 * projection runners, the HTTP edge with the signed-request pipeline, routes.
 */
export async function startHost(opts: {
  env: ServiceEnv;
  modules: ServiceModule[];
  logger?: Logger;
  /** Milliseconds since the epoch (tests pass a fake clock). */
  now?: () => number;
}): Promise<Host> {
  const { env, modules } = opts;
  const name = modules.map((m) => m.name).join("+");
  const instance = env.CONCLAVE_INSTANCE ?? `${hostname()}-${process.pid}`;
  const logger = opts.logger ?? pino({ level: env.CONCLAVE_LOG_LEVEL, base: { service: name, instance } });
  const now = opts.now ?? Date.now;
  const authenticator = natsAuthenticator(env);

  const service = name.replaceAll("+", "_");
  const registry = new Registry();
  const observer = storeMetrics(registry, service);
  collectDefaultMetrics({ register: registry, labels: { service } });
  const store = await Store.connect({
    servers: env.CONCLAVE_NATS_URLS,
    name: `${name}/${instance}`,
    replicas: env.CONCLAVE_REPLICAS,
    opTimeoutMs: env.CONCLAVE_OP_TIMEOUT_MS,
    observer,
    maxBytes: env.CONCLAVE_STORE_MAX_BYTES,
    authenticator,
  });
  await store.provision();
  const storage = storageGauges(registry, store);
  const schemas = Object.assign({}, ...modules.map((m) => m.eventSchemas)) as EventSchemas;
  const log = new EventLog(store.conn, schemas, { opTimeoutMs: env.CONCLAVE_OP_TIMEOUT_MS, observer });
  const projections = new Map<string, ProjectionRunner>();
  for (const projection of modules.flatMap((m) => m.projections)) {
    const runner = new ProjectionRunner(store, log, projection, logger);
    runner.start();
    projections.set(projection.name, runner);
  }
  projectionLagGauge(registry, service, projections);

  const edge = createEdge({
    service,
    registry,
    ready: () => store.ready(),
    logger,
    limits: {
      jsonBodyBytes: env.CONCLAVE_JSON_BODY_BYTES,
      blobBodyBytes: env.CONCLAVE_BLOB_BODY_BYTES,
      inflightBytes: env.CONCLAVE_INFLIGHT_BYTES,
      perIp: { ratePerSecond: env.CONCLAVE_IP_RATE_PER_S, burst: env.CONCLAVE_IP_BURST },
    },
    now,
  });
  const authDeps: AuthenticatorDeps = {
    policy: conclavePolicy(now),
    keyCache: new PublicKeyCache(),
    lookupUser: principalLookup(store),
    nonces: store.table("nonces", z.object({ at: z.number() }) as z.ZodType<NonceClaim>),
  };
  const authOutcomes = new Counter({
    name: "conclave_auth_outcomes_total",
    help: "Signed-request checks by outcome: ok, or the rejection reason (replay, expired, unknown_signer, ...)",
    labelNames: ["service", "outcome"],
    registers: [registry],
  });
  registerSignedRequestAuth(edge.app, authDeps, {
    mode: env.CONCLAVE_AUTH_MODE,
    onOutcome: (outcome) => authOutcomes.inc({ service, outcome }),
    publicOrigin: env.CONCLAVE_PUBLIC_URL,
    decisionMs: env.CONCLAVE_OP_TIMEOUT_MS,
  });

  const ctx: ServiceContext = { store, log, logger, env, projections, edge };
  for (const m of modules) await m.register(ctx);
  const url = await edge.app.listen({ host: env.CONCLAVE_HOST, port: env.CONCLAVE_PORT });
  logger.info({ url, modules: modules.map((m) => m.name), authMode: env.CONCLAVE_AUTH_MODE }, "listening");

  let closing: Promise<void> | undefined;
  return {
    ctx,
    url,
    close: () => {
      closing ??= (async () => {
        storage.stop();
        await edge.shutdown({ deadlineMs: 10_000 });
        await Promise.all([...projections.values()].map((r) => r.stop()));
        await store.close();
      })();
      return closing;
    },
  };
}
