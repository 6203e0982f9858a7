import type { FastifyInstance } from "fastify";

/**
 * Graceful shutdown: report unready, stop accepting connections, let requests in
 * flight finish until a deadline, then cut whatever is left. Responses sent while
 * draining carry `Connection: close` (fastify does this once closing), so a
 * keep-alive client moves to another replica after its current request.
 */

export interface DrainSwitch {
  isDraining(): boolean;
  begin(): void;
}

export function createDrainSwitch(): DrainSwitch {
  let draining = false;
  return {
    isDraining: () => draining,
    begin: () => {
      draining = true;
    },
  };
}

export interface ShutdownOptions {
  /** Time to keep serving while /readyz already says 503, so load balancers notice first. */
  graceMs?: number;
  /** After this, open connections are destroyed and the server closes anyway. */
  deadlineMs?: number;
}

export interface ShutdownReport {
  /** True when the deadline passed and connections were cut. */
  forced: boolean;
  durationMs: number;
}

export async function shutdownGracefully(
  app: FastifyInstance,
  drain: DrainSwitch,
  options: ShutdownOptions = {},
): Promise<ShutdownReport> {
  const { graceMs = 0, deadlineMs = 10_000 } = options;
  const started = Date.now();
  drain.begin();
  if (graceMs > 0) await sleep(graceMs);

  // fastify's close stops the listener, closes idle keep-alive sockets and resolves
  // once every in-flight response has finished.
  const closed = app.close();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"deadline">((resolve) => {
    timer = setTimeout(() => resolve("deadline"), deadlineMs);
  });
  const first = await Promise.race([closed.then(() => "closed" as const), deadline]);
  clearTimeout(timer);
  if (first === "deadline") {
    app.server.closeAllConnections();
    await closed;
  }
  return { forced: first === "deadline", durationMs: Date.now() - started };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
