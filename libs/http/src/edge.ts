import type { Server } from "node:http";
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from "fastify";
import { Registry } from "prom-client";
import { createBodyPlanner, installBodyGuard } from "./body-plan.ts";
import { installMetrics } from "./edge-metrics.ts";
import { type EdgeLimits, type EdgeOptions, resolveEdgeOptions } from "./edge-options.ts";
import { answerClientError, answerFrameworkError, installErrorHandling } from "./error-handler.ts";
import { installExpectContinue } from "./expect-continue.ts";
import { HEALTH_ROUTES, installHealthRoutes } from "./health-routes.ts";
import { InflightLimiter, installInflightGuard } from "./inflight-limiter.ts";
import { IpRateLimiter, installIpRateGuard } from "./ip-rate-limiter.ts";
import { installJsonParser } from "./json-body.ts";
import { REQUEST_ID_HEADER, requestIdFor } from "./request-id.ts";
import { installRequestTargetGuard } from "./request-target.ts";
import { createDrainSwitch, type ShutdownOptions, type ShutdownReport, shutdownGracefully } from "./shutdown.ts";
import { installStreamParser } from "./stream-body.ts";

/** The edge of one service: the fastify instance plus the handles tests and main.ts need. */
export interface Edge {
  app: FastifyInstance;
  limits: EdgeLimits;
  inflight: InflightLimiter;
  ipRate: IpRateLimiter;
  registry: Registry;
  isDraining(): boolean;
  /** Unready, stop accepting, drain in-flight requests until the deadline, close. */
  shutdown(options?: ShutdownOptions): Promise<ShutdownReport>;
}

/**
 * Builds the HTTP edge every Conclave service sits behind. Routes are added to
 * `edge.app` afterwards; every one of them gets the guards, in this order (see index.ts).
 */
export function createEdge(input: EdgeOptions): Edge {
  const options = resolveEdgeOptions(input);
  const { limits } = options;
  const registry = options.registry ?? new Registry();

  const fastifyOptions: FastifyHttpOptions<Server> = {
    bodyLimit: limits.jsonBodyBytes,
    trustProxy: options.trustProxy,
    http: {
      maxHeaderSize: limits.maxHeaderBytes,
      // Slowloris: a client must finish its headers, then its whole request, in bounded time.
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node checks those timeouts on this period (default 30 s, which would blunt them).
      connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4))),
    },
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    routerOptions: { maxParamLength: limits.maxParamLength },
    // The incoming header is vetted in requestIdFor, never taken as is.
    requestIdHeader: false,
    genReqId: requestIdFor,
    // While draining, requests on open keep-alive connections are still served (with
    // Connection: close) instead of fastify's own, non-wire-shaped 503.
    return503OnClosing: false,
    // Unknown fields are refused (the wire contract), not silently stripped as fastify does by default.
    ajv: { customOptions: { removeAdditional: false } },
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  };
  const app: FastifyInstance =
    options.logger === false
      ? Fastify({ ...fastifyOptions, logger: false })
      : Fastify({ ...fastifyOptions, loggerInstance: options.logger });

  const planOf = createBodyPlanner(limits);
  const inflight = new InflightLimiter({ capBytes: limits.inflightBytes, enabled: options.inflightLimiterEnabled });
  const ipRate = new IpRateLimiter({ ...limits.perIp, now: options.now });
  const drain = createDrainSwitch();

  // Hooks run in the order they are added.
  app.addHook("onRequest", async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  const metrics = installMetrics(app, { registry, service: options.service, inflight });
  installIpRateGuard(app, ipRate, HEALTH_ROUTES);
  installRequestTargetGuard(app);
  installBodyGuard(app, planOf);
  installInflightGuard(app, inflight, planOf);
  installExpectContinue(app);

  installJsonParser(app);
  installStreamParser(app, planOf);
  installErrorHandling(app, metrics.noteErrorAnswer);
  installHealthRoutes(app, {
    ready: options.ready,
    readyTimeoutMs: options.readyTimeoutMs,
    isDraining: drain.isDraining,
    registry,
  });

  return {
    app,
    limits,
    inflight,
    ipRate,
    registry,
    isDraining: drain.isDraining,
    shutdown: (shutdownOptions) => shutdownGracefully(app, drain, shutdownOptions),
  };
}
