import {
  type CheckOptions,
  type CheckResult,
  checkAcknowledgedWrites,
  checkInternalErrors,
  checkNonces,
  checkPartitionMinority,
  checkPlannedRestarts,
  checkProjections,
  checkQuorumLoss,
  checkRecovery,
  checkRefusedWritesAbsent,
  checkRevocations,
  type FinalState,
} from "./checkers.ts";
import { checkDataplaneAdmissions, checkDataplaneRemovals } from "./dataplane-checkers.ts";
import type { HistoryRecord, RequestRecord } from "./history.ts";
import { checkBlobReads, checkBudgets, checkTokenRevocations, checkUsageRecorded } from "./service-checkers.ts";

/** Every invariant over a run's history and final state, in the order the summary shows them. */
export function runCheckers(
  history: HistoryRecord[],
  final: FinalState,
  opts: CheckOptions & {
    recoveryBoundMs: number;
    dataplaneBoundMs?: number;
    admissionLifetimeMs?: number;
    faultSettleMs?: number;
  },
): CheckResult[] {
  const reqs = history.filter((h): h is RequestRecord => h.type === "req");
  // Judged when the workload ran data-plane bots (test/chaos/dataplane-workload.ts).
  const dataplane = history.some((h) => h.type === "delivery" || h.type === "admission");
  const dp = {
    dataplaneBoundMs: opts.dataplaneBoundMs ?? 1_000,
    revokeBoundMs: opts.revokeBoundMs,
    ...(opts.admissionLifetimeMs === undefined ? {} : { admissionLifetimeMs: opts.admissionLifetimeMs }),
    ...(opts.faultSettleMs === undefined ? {} : { faultSettleMs: opts.faultSettleMs }),
  };
  return [
    ...checkAcknowledgedWrites(reqs, final),
    checkRefusedWritesAbsent(reqs, final),
    checkNonces(reqs),
    checkRevocations(reqs, opts),
    checkQuorumLoss(history, opts),
    checkPartitionMinority(history, opts),
    checkPlannedRestarts(history),
    checkProjections(final),
    checkRecovery(history, opts.recoveryBoundMs),
    ...(reqs.some((r) => r.op.startsWith("blob.")) ? [checkBlobReads(reqs)] : []),
    ...(reqs.some((r) => r.op === "rpc.call")
      ? [checkTokenRevocations(reqs, opts), checkBudgets(reqs, final), checkUsageRecorded(reqs, final)]
      : []),
    ...(dataplane ? [checkDataplaneRemovals(history, dp), checkDataplaneAdmissions(history, dp)] : []),
    checkInternalErrors(reqs),
  ];
}
