import { describe, expect, it } from "vitest";
import { createEdge } from "./index.ts";
import { bucketKey, IpRateLimiter } from "./ip-rate-limiter.ts";

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("IpRateLimiter", () => {
  it("allows a burst, then refuses with the seconds until the next token", () => {
    const clock = fakeClock();
    const limiter = new IpRateLimiter({ ratePerSecond: 0.5, burst: 3, maxTrackedIps: 10, now: clock.now });
    expect([1, 2, 3].map(() => limiter.take("10.0.0.1").allowed)).toEqual([true, true, true]);
    expect(limiter.take("10.0.0.1")).toEqual({ allowed: false, retryAfterSeconds: 2 });
    // Another address has its own bucket.
    expect(limiter.take("10.0.0.2").allowed).toBe(true);
  });

  it("refills at the configured rate, never above the burst", () => {
    const clock = fakeClock();
    const limiter = new IpRateLimiter({ ratePerSecond: 10, burst: 2, maxTrackedIps: 10, now: clock.now });
    limiter.take("a");
    limiter.take("a");
    expect(limiter.take("a").allowed).toBe(false);
    clock.advance(100);
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
    clock.advance(60_000);
    expect([1, 2, 3].map(() => limiter.take("a").allowed)).toEqual([true, true, false]);
  });

  it("stays bounded under a spray of fresh addresses", () => {
    const clock = fakeClock();
    const limiter = new IpRateLimiter({ ratePerSecond: 1, burst: 5, maxTrackedIps: 1_000, now: clock.now });
    for (let i = 0; i < 50_000; i++) limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(limiter.trackedIps()).toBeLessThanOrEqual(1_000);
  });

  it("forgets idle addresses whose bucket has refilled", () => {
    const clock = fakeClock();
    const limiter = new IpRateLimiter({ ratePerSecond: 1, burst: 2, maxTrackedIps: 1_000, now: clock.now });
    for (let i = 0; i < 100; i++) limiter.take(`192.0.2.${i}`);
    clock.advance(10_000);
    for (let i = 0; i < 100; i++) limiter.take("198.51.100.1");
    expect(limiter.trackedIps()).toBe(1);
  });

  it("keeps hot addresses when evicting past the bound", () => {
    const clock = fakeClock();
    const limiter = new IpRateLimiter({ ratePerSecond: 0.001, burst: 2, maxTrackedIps: 10, now: clock.now });
    limiter.take("attacker");
    limiter.take("attacker");
    for (let i = 0; i < 50; i++) {
      limiter.take(`spray-${i}`);
      // The flooding address stays the most recently seen, so it is not the one evicted.
      expect(limiter.take("attacker").allowed).toBe(false);
    }
    expect(limiter.trackedIps()).toBe(10);
  });

  it("buckets IPv6 clients by /64 and IPv4-mapped addresses with their IPv4", () => {
    expect(bucketKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(bucketKey("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(bucketKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(bucketKey("::1")).toBe("0:0:0:0::/64");
    expect(bucketKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(bucketKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(bucketKey("192.0.2.7")).toBe("192.0.2.7");
  });
});

describe("the per-IP guard on the edge", () => {
  function edgeWithBurst(burst: number) {
    const clock = fakeClock();
    const edge = createEdge({
      service: "ip-test",
      ready: async () => true,
      limits: { perIp: { ratePerSecond: 1, burst } },
      now: clock.now,
    });
    edge.app.get("/v1/things", async () => ({ ok: true }));
    return { edge, clock };
  }

  it("answers 429 with Retry-After once an address has spent its burst", async () => {
    const { edge, clock } = edgeWithBurst(3);
    const hit = () => edge.app.inject({ url: "/v1/things", remoteAddress: "203.0.113.9" });
    for (let i = 0; i < 3; i++) expect((await hit()).statusCode).toBe(200);
    const refused = await hit();
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.json()).toEqual({
      error: { code: "rate_limited", message: "too many requests from this address", reason: "ip_rate" },
    });
    // Other addresses are unaffected; the refused one recovers with time.
    expect((await edge.app.inject({ url: "/v1/things", remoteAddress: "203.0.113.10" })).statusCode).toBe(200);
    clock.advance(1_000);
    expect((await hit()).statusCode).toBe(200);
    const metrics = await edge.app.inject({ url: "/metrics" });
    expect(metrics.body).toContain('conclave_limiter_shed_total{service="ip-test",limiter="ip_rate"} 1');
    expect(metrics.body).toContain(
      'conclave_http_requests_total{service="ip-test",route="/v1/things",method="GET",status_class="4xx",outcome="shed"} 1',
    );
  });

  it("counts unknown routes against the bucket too", async () => {
    const { edge } = edgeWithBurst(1);
    await edge.app.inject({ url: "/nope", remoteAddress: "203.0.113.9" });
    expect((await edge.app.inject({ url: "/nope", remoteAddress: "203.0.113.9" })).statusCode).toBe(429);
  });

  it("exempts /healthz, /readyz and /metrics from the bucket", async () => {
    const { edge } = edgeWithBurst(1);
    await edge.app.inject({ url: "/v1/things", remoteAddress: "203.0.113.9" });
    expect((await edge.app.inject({ url: "/v1/things", remoteAddress: "203.0.113.9" })).statusCode).toBe(429);
    for (const url of ["/healthz", "/readyz", "/metrics", "/healthz?x=1"]) {
      for (let i = 0; i < 5; i++) {
        expect((await edge.app.inject({ url, remoteAddress: "203.0.113.9" })).statusCode).toBe(200);
      }
    }
  });

  it("ignores X-Forwarded-For unless a proxy is trusted", async () => {
    const { edge } = edgeWithBurst(1);
    const spoofed = (n: number) =>
      edge.app.inject({
        url: "/v1/things",
        remoteAddress: "203.0.113.9",
        headers: { "x-forwarded-for": `10.0.0.${n}` },
      });
    expect((await spoofed(1)).statusCode).toBe(200);
    expect((await spoofed(2)).statusCode).toBe(429);
  });
});
