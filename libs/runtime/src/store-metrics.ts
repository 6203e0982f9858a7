import { ASSET_STREAMS, type ProjectionRunner, type Store, type StoreObserver, withDeadline } from "@conclave/store";
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

/** How often the storage gauges are refreshed from JetStream (stream info of every asset). */
export const STORAGE_REFRESH_MS = 30_000;

/**
 * Bytes used and byte limit of every bucket, stream and object store, so an
 * alert fires before one is full (a full nonce bucket denies every signed
 * request; a full events stream refuses every change: docs/operations.md).
 * Refreshed every STORAGE_REFRESH_MS (and once at start), not per scrape: N
 * replicas scraped often would otherwise each ask for every stream's info.
 * An asset the store cannot describe reports -1.
 */
export function storageGauges(registry: Registry, store: Store): { refresh(): Promise<void>; stop(): void } {
  const used = new Gauge({
    name: "conclave_store_bytes",
    help: "Bytes held by each bucket, stream and object store (-1: unknown)",
    labelNames: ["asset", "stream"],
    registers: [registry],
  });
  const limit = new Gauge({
    name: "conclave_store_limit_bytes",
    help: "Byte limit of each bucket, stream and object store (alert on conclave_store_bytes / this)",
    labelNames: ["asset", "stream"],
    registers: [registry],
  });
  const refresh = async () => {
    for (const [asset, stream] of ASSET_STREAMS) {
      try {
        const info = await withDeadline("storage gauge", store.opTimeoutMs, () => store.conn.jsm.streams.info(stream));
        used.set({ asset, stream }, info.state.bytes);
        limit.set({ asset, stream }, info.config.max_bytes);
      } catch {
        used.set({ asset, stream }, -1);
      }
    }
  };
  const timer = setInterval(() => void refresh(), STORAGE_REFRESH_MS);
  timer.unref();
  void refresh();
  return { refresh, stop: () => clearInterval(timer) };
}
