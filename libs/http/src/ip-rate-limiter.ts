import { isIPv4, isIPv6 } from "node:net";
import { ApiError } from "@conclave/protocol";
import type { FastifyInstance } from "fastify";

/**
 * Pre-authentication flood control: a token bucket per client address, in memory
 * (per node, deliberately: it must answer before any store round trip, and a
 * flood is a per-node problem). The map is bounded: idle buckets are dropped as
 * they go cold and, past `maxTrackedIps`, the least recently seen address goes,
 * so a spray of source addresses costs at most that many entries.
 */

export interface IpRateLimiterOptions {
  ratePerSecond: number;
  burst: number;
  maxTrackedIps: number;
  /** Milliseconds since the epoch. */
  now: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export const IP_RATE_REASON = "ip_rate";

export class IpRateLimiter {
  readonly #options: IpRateLimiterOptions;
  // Map iteration order is insertion order; each take re-inserts, so the first entry is the coldest.
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: IpRateLimiterOptions) {
    this.#options = options;
  }

  take(ip: string): RateDecision {
    const now = this.#options.now();
    const key = bucketKey(ip);
    const bucket = this.#buckets.get(key);
    let tokens = bucket ? this.#refilled(bucket, now) : this.#options.burst;
    if (bucket) this.#buckets.delete(key);
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    this.#buckets.set(key, { tokens, at: now });
    this.#evict(now);
    if (allowed) return { allowed };
    return { allowed, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.#options.ratePerSecond)) };
  }

  trackedIps(): number {
    return this.#buckets.size;
  }

  #refilled(bucket: Bucket, now: number): number {
    const elapsedSeconds = Math.max(0, now - bucket.at) / 1000;
    return Math.min(this.#options.burst, bucket.tokens + elapsedSeconds * this.#options.ratePerSecond);
  }

  #evict(now: number): void {
    // A full bucket is the same as no bucket: drop a few cold ones per call (amortised sweep).
    for (let i = 0; i < 2; i++) {
      const coldest = this.#buckets.entries().next();
      if (coldest.done || this.#refilled(coldest.value[1], now) < this.#options.burst) break;
      this.#buckets.delete(coldest.value[0]);
    }
    while (this.#buckets.size > this.#options.maxTrackedIps) {
      const coldest = this.#buckets.keys().next();
      if (coldest.done) break;
      this.#buckets.delete(coldest.value);
    }
  }
}

/**
 * The bucket an address belongs to. An IPv6 client typically owns a whole /64, so
 * keying by full address would hand one host 2^64 buckets; IPv4-mapped addresses
 * share their IPv4 bucket.
 */
export function bucketKey(ip: string): string {
  if (ip.startsWith("::ffff:") && isIPv4(ip.slice(7))) return ip.slice(7);
  const address = ip.split("%")[0] ?? ip;
  if (!isIPv6(address)) return ip;
  const groups = (part: string): string[] =>
    part === "" ? [] : part.split(":").flatMap((g) => (g.includes(".") ? ["0", "0"] : [g]));
  const [head = "", tail] = address.split("::");
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const zeros: string[] = Array.from({ length: 8 - left.length - right.length }, () => "0");
  const full = [...left, ...zeros, ...right];
  return `${full
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

/** onRequest: the first step of the edge, before any other work is spent on the request. */
export function installIpRateGuard(
  app: FastifyInstance,
  limiter: IpRateLimiter,
  exemptRoutes: ReadonlySet<string>,
): void {
  app.addHook("onRequest", async (request) => {
    const route = request.routeOptions.url;
    // Probes and scrapes must keep working while a flood is being shed.
    if (route !== undefined && exemptRoutes.has(route)) return;
    // request.ip can be missing when the socket is already gone; such requests share one bucket.
    const decision = limiter.take(request.ip || "unknown");
    if (!decision.allowed) {
      throw new ApiError("rate_limited", "too many requests from this address", {
        reason: IP_RATE_REASON,
        headers: { "retry-after": String(decision.retryAfterSeconds) },
      });
    }
  });
}
