import { Counter, Histogram, type Registry } from "prom-client";
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
