import type { AuditDraft } from "./audit-trail.ts";

/** Length of one tally window: each replica appends at most one record per kind and window. */
export const TALLY_WINDOW_MS = 60_000;
/** Distinct kinds kept per window; beyond it, answers are counted under one `other` kind. */
export const MAX_TALLY_KINDS = 32;

type Kind = Pick<AuditDraft, "credential" | "outcome" | "status" | "reason">;

/**
 * Counts of unattributed answers (401 before a signer or token was proven,
 * pre-auth 429) per kind — credential, outcome, status, reason — for one
 * window. Appending each of them was a replicated audit record kept 90 days:
 * an unregistered key, free to make, could fill the audit stream (300
 * requests, 300 records: issue 15). A window's counts become one record per
 * kind with `count` (audit-trail.ts). Authenticated decisions are still
 * recorded one by one (SPEC §5).
 */
export class UnattributedTally {
  private counts = new Map<string, { kind: Kind; count: number }>();

  add(draft: AuditDraft): void {
    let kind: Kind = {
      credential: draft.credential,
      outcome: draft.outcome,
      status: draft.status,
      reason: draft.reason,
    };
    let key = JSON.stringify(kind);
    if (!this.counts.has(key) && this.counts.size >= MAX_TALLY_KINDS) {
      kind = { credential: "none", outcome: draft.outcome, status: draft.status, reason: "other" };
      key = JSON.stringify(kind);
    }
    const entry = this.counts.get(key);
    if (entry) entry.count++;
    else this.counts.set(key, { kind, count: 1 });
  }

  /** The window's counts, and a fresh window. */
  take(): { kind: Kind; count: number }[] {
    const taken = [...this.counts.values()];
    this.counts = new Map();
    return taken;
  }
}
