import type { ProjectionRunner, StoreObserver } from "@conclave/store";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Prometheus metrics of the store layer: op latency and outcome, CAS retries, projection lag. */
export function storeMetrics(registry: Registry, service: string): StoreObserver {
  const duration = new Histogram({
    name: "conclave_store_op_duration_seconds",
    help: "Duration of JetStream store operations by kind, bucket/stream and outcome (ok, conflict, unavailable, not_found)",
    labelNames: ["service", "op", "target", "outcome"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const casRetries = new Counter({
    name: "conclave_store_cas_retries_total",
    help: "CAS updates that lost their race and were retried, by bucket",
    labelNames: ["service", "bucket"],
    registers: [registry],
  });
  return {
    op: (op, target, seconds, outcome) => duration.observe({ service, op, target, outcome }, seconds),
    casRetry: (bucket) => casRetries.inc({ service, bucket }),
  };
}

/** Events appended but not yet applied, per projection, read from the durable consumer at scrape time. */
export function projectionLagGauge(registry: Registry, service: string, runners: Map<string, ProjectionRunner>): void {
  new Gauge({
    name: "conclave_projection_lag_events",
    help: "Events not yet applied by each projection (-1 when the store cannot tell)",
    labelNames: ["service", "projection"],
    registers: [registry],
    async collect() {
      for (const [projection, runner] of runners) {
        this.set({ service, projection }, await runner.lag().catch(() => -1));
      }
    },
  });
}
