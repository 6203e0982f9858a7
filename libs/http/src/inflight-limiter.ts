import { overloadedError } from "@conclave/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { BodyPlanner } from "./body-plan.ts";

/**
 * The node-wide byte budget for request bodies being received. A request reserves
 * its worst case (declared length, or the route's ceiling when chunked) before any
 * body byte is read, so N concurrent uploads can never hold more than the cap in
 * memory, whatever their handlers do. One per process: the cap is the node's.
 */

export interface Reservation {
  readonly bytes: number;
  /** Idempotent: only the first call gives the bytes back. */
  release(): void;
}

export interface InflightLimiterOptions {
  capBytes: number;
  /** false: accounts but never sheds. Exists to prove, in a test, that the guard is real. */
  enabled?: boolean;
}

export const INFLIGHT_REASON = "inflight_bytes";

export class InflightLimiter {
  readonly capBytes: number;
  readonly enabled: boolean;
  #inFlight = 0;
  #peak = 0;

  constructor(options: InflightLimiterOptions) {
    if (!Number.isSafeInteger(options.capBytes) || options.capBytes <= 0) {
      throw new Error("capBytes must be a positive integer");
    }
    this.capBytes = options.capBytes;
    this.enabled = options.enabled ?? true;
  }

  /** A reservation, or undefined when `bytes` does not fit under the cap (shed). */
  tryReserve(bytes: number): Reservation | undefined {
    if (this.enabled && bytes > 0 && this.#inFlight + bytes > this.capBytes) return undefined;
    this.#inFlight += bytes;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    let held = true;
    return {
      bytes,
      release: () => {
        if (!held) return;
        held = false;
        this.#inFlight -= bytes;
      },
    };
  }

  inFlightBytes(): number {
    return this.#inFlight;
  }

  /** Highest in-flight total seen since start: a figure for tests and benchmarks. */
  peakInFlightBytes(): number {
    return this.#peak;
  }
}

/**
 * onRequest: the reservation step, after the declared-size check. The bytes come
 * back when the response finishes or the client goes away, whichever is first.
 */
export function installInflightGuard(app: FastifyInstance, limiter: InflightLimiter, planOf: BodyPlanner): void {
  const reservations = new WeakMap<FastifyRequest, Reservation>();

  app.addHook("onRequest", async (request, reply) => {
    const { worstCase } = planOf(request);
    if (worstCase === 0) return;
    const reservation = limiter.tryReserve(worstCase);
    if (!reservation) {
      throw overloadedError("server busy, retry shortly", { reason: INFLIGHT_REASON });
    }
    reservations.set(request, reservation);
    // 'close' fires once per response, after it finished or when the connection died
    // mid-way (which onResponse never sees): the catch-all release point.
    reply.raw.once("close", reservation.release);
  });

  const release = async (request: FastifyRequest): Promise<void> => {
    reservations.get(request)?.release();
  };
  app.addHook("onResponse", release);
  app.addHook("onRequestAbort", release);
}
