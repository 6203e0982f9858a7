import { ApiError } from "@conclave/protocol";
import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { sendApiError } from "./error-handler.ts";

/** Unauthenticated probe routes; exempt from the per-IP bucket so probes survive a flood. */
export const HEALTH_ROUTES: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);

export interface HealthDeps {
  /** Whether the service's dependencies answer (JetStream reachable). */
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
  /** True while shutting down: the load balancer must stop sending before we stop serving. */
  isDraining: () => boolean;
  registry: Registry;
}

export function installHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  const config = { body: "none" as const };
  // Probes come every few seconds per replica (6 replicas every 5 s in compose):
  // fastify's two info lines per request ("incoming request", "request completed")
  // would drown the logs. Only their warnings (a failed readiness check) are kept.
  const probe = { config, logLevel: "warn" as const };

  // Liveness: the process answers. Deliberately independent of dependencies, so a
  // NATS outage makes replicas unready, not restarted in a loop.
  app.get("/healthz", probe, async () => ({ status: "ok" }));

  app.get("/readyz", probe, async (request, reply) => {
    if (deps.isDraining()) return sendApiError(request, reply, new ApiError("unavailable", "shutting down"));
    if (
      await readyWithin(deps.ready, deps.readyTimeoutMs, (err) => request.log.warn({ err }, "readiness check failed"))
    ) {
      return { status: "ok" };
    }
    return sendApiError(request, reply, new ApiError("unavailable", "not ready"));
  });

  app.get("/metrics", probe, async (_request, reply) => {
    const text = await deps.registry.metrics();
    return reply.type(deps.registry.contentType).send(text);
  });
}

/** A readiness probe that hangs is a failed probe: bounded, and any error counts as not ready. */
async function readyWithin(
  ready: () => Promise<boolean>,
  timeoutMs: number,
  onError: (err: unknown) => void,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return (await Promise.race([ready(), timedOut])) === true;
  } catch (err) {
    onError(err);
    return false;
  } finally {
    clearTimeout(timer);
  }
}
