import type { ApiError } from "@conclave/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { BODY_SIZE_REASON } from "./body-plan.ts";
import { INFLIGHT_REASON, type InflightLimiter } from "./inflight-limiter.ts";
import { IP_RATE_REASON } from "./ip-rate-limiter.ts";

/**
 * Request counts and latencies by route pattern and outcome, the in-flight byte
 * gauge, and limiter sheds. Labels use the route pattern (`/v1/rooms/:id`), never
 * the raw URL: a client must not be able to mint time series.
 */

export type Limiter = typeof INFLIGHT_REASON | typeof IP_RATE_REASON | typeof BODY_SIZE_REASON;
const LIMITERS: ReadonlySet<string> = new Set([INFLIGHT_REASON, IP_RATE_REASON, BODY_SIZE_REASON]);

export type Outcome = "ok" | "client_error" | "server_error" | "shed" | "aborted";

export interface EdgeMetrics {
  /** Counts a shed and marks the request's outcome as "shed". */
  noteErrorAnswer(request: FastifyRequest, error: ApiError): void;
}

interface Tracked {
  startedAt: bigint;
  shed: boolean;
  recorded: boolean;
}

// Registering twice in one registry throws; a registry shared by two edges reuses the metric.
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function installMetrics(
  app: FastifyInstance,
  deps: { registry: Registry; service: string; inflight: InflightLimiter },
): EdgeMetrics {
  const { registry, service, inflight } = deps;
  const registers = [registry];
  const requests = once(
    registry,
    "conclave_http_requests_total",
    () =>
      new Counter({
        name: "conclave_http_requests_total",
        help: "HTTP requests answered (or abandoned), by route pattern and outcome",
        labelNames: ["service", "route", "method", "status_class", "outcome"] as const,
        registers,
      }),
  );
  const duration = once(
    registry,
    "conclave_http_request_duration_seconds",
    () =>
      new Histogram({
        name: "conclave_http_request_duration_seconds",
        help: "Time from the first hook to the end of the response",
        labelNames: ["service", "route", "method", "status_class"] as const,
        // Up to a minute: blob uploads are legitimately slow.
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers,
      }),
  );
  once(
    registry,
    "conclave_http_inflight_bytes",
    () =>
      new Gauge({
        name: "conclave_http_inflight_bytes",
        help: "Request body bytes reserved by requests in flight",
        labelNames: ["service"] as const,
        registers,
        collect() {
          this.set({ service }, inflight.inFlightBytes());
        },
      }),
  );
  const sheds = once(
    registry,
    "conclave_limiter_shed_total",
    () =>
      new Counter({
        name: "conclave_limiter_shed_total",
        help: "Requests refused by a limiter",
        labelNames: ["service", "limiter"] as const,
        registers,
      }),
  );

  const tracked = new WeakMap<FastifyRequest, Tracked>();

  const record = (request: FastifyRequest, reply: FastifyReply, aborted: boolean): void => {
    const state = tracked.get(request);
    if (!state || state.recorded) return;
    state.recorded = true;
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const labels = { service, route, method: request.method, status_class: `${Math.floor(status / 100)}xx` };
    const outcome: Outcome = aborted
      ? "aborted"
      : state.shed
        ? "shed"
        : status >= 500
          ? "server_error"
          : status >= 400
            ? "client_error"
            : "ok";
    requests.inc({ ...labels, outcome });
    duration.observe(labels, Number(process.hrtime.bigint() - state.startedAt) / 1e9);
  };

  // Added first among the hooks, so even requests shed by the limiters are counted.
  app.addHook("onRequest", async (request, reply) => {
    tracked.set(request, { startedAt: process.hrtime.bigint(), shed: false, recorded: false });
    // A connection that dies before the response finished never reaches onResponse.
    reply.raw.once("close", () => record(request, reply, !reply.raw.writableFinished));
  });
  app.addHook("onResponse", async (request, reply) => record(request, reply, false));

  return {
    noteErrorAnswer(request, error) {
      if (error.reason === undefined || !LIMITERS.has(error.reason)) return;
      sheds.inc({ service, limiter: error.reason });
      const state = tracked.get(request);
      if (state) state.shed = true;
    },
  };
}
