import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { DenialReason } from "./admission.ts";

export type DecisionOutcome = "admitted" | DenialReason | "malformed" | "internal";

/** Admissions and refusals of the auth callout, by outcome, and how long deciding took. */
export interface AccessMetrics {
  decided(outcome: DecisionOutcome, seconds: number): void;
}

export function accessMetrics(registry: Registry): AccessMetrics {
  const decisions = new Counter({
    name: "conclave_access_decisions_total",
    help: "Auth callout decisions: admitted, or the denial reason (unknown_user, revoked, bad_signature, store_unavailable, ...)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "conclave_access_decision_seconds",
    help: "Time from a callout request to its signed answer",
    labelNames: ["outcome"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  return {
    decided(outcome, seconds) {
      decisions.inc({ outcome });
      duration.observe({ outcome }, seconds);
    },
  };
}

export type ChangeOutcome = "kicked" | "none" | "expired" | "failed";

/** Live disconnect (live-disconnect.ts): changes handled, connections closed, and how long after the commit. */
export interface LiveDisconnectMetrics {
  change(table: string, outcome: ChangeOutcome): void;
  /** Connections closed for one change, `lagSeconds` after its commit. */
  kicked(table: string, connections: number, lagSeconds: number): void;
  /** Connections a follow-up sweep closed: admitted on facts read before the change, registered after its kick. */
  lateAdmissions(table: string, connections: number): void;
  feedRestarted(table: string): void;
  /** Reports the kicks waiting for a turn when scraped. */
  backlog(read: () => number): void;
}

export function liveDisconnectMetrics(registry: Registry): LiveDisconnectMetrics {
  const changes = new Counter({
    name: "conclave_access_kick_changes_total",
    help: "Committed changes to users, member_rooms and rooms handled: kicked, none (no bot affected), expired (older than an admission), failed (retried)",
    labelNames: ["table", "outcome"] as const,
    registers: [registry],
  });
  const kicks = new Counter({
    name: "conclave_access_kicks_total",
    help: "Bot connections closed because a change made their permissions stale",
    labelNames: ["table"] as const,
    registers: [registry],
  });
  const lag = new Histogram({
    name: "conclave_access_kick_lag_seconds",
    help: "From a change's commit to its bots' connections closed on every server",
    labelNames: ["table"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  });
  const late = new Counter({
    name: "conclave_access_late_admissions_total",
    help: "Connections admitted on facts read before a change and registered after its kick, closed by a follow-up sweep",
    labelNames: ["table"] as const,
    registers: [registry],
  });
  const restarts = new Counter({
    name: "conclave_access_kick_feed_restarts_total",
    help: "Change feeds re-attached to their durable consumer after an interruption",
    labelNames: ["table"] as const,
    registers: [registry],
  });
  let read = () => 0;
  new Gauge({
    name: "conclave_access_kick_backlog",
    help: "Bots whose kick waits for a turn (coalesced)",
    labelNames: [] as const,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
  return {
    change: (table, outcome) => changes.inc({ table, outcome }),
    kicked(table, connections, lagSeconds) {
      kicks.inc({ table }, connections);
      lag.observe({ table }, lagSeconds);
    },
    lateAdmissions: (table, connections) => late.inc({ table }, connections),
    feedRestarted: (table) => restarts.inc({ table }),
    backlog(r) {
      read = r;
    },
  };
}
