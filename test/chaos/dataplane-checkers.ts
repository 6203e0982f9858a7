import { type CheckResult, ok, result } from "./checkers.ts";
import type { AdmissionRecord, DeliveryRecord, HistoryRecord, RequestRecord } from "./history.ts";

/**
 * Data-plane invariants (issue 14 item 5) over the chaos history: what bots
 * on NATS received and which of their connects were admitted, next to the
 * acknowledged removals and revocations. Times are the runner's clock, like
 * request records' t0/t1.
 */

export interface DataplaneCheckOptions {
  /** Nothing published later than this after a removal's or revocation's 2xx may reach the bot (ms). */
  dataplaneBoundMs: number;
  /** A connect started this long after a revocation's 2xx must be refused (ms; docs/chaos.md: at once). */
  revokeBoundMs: number;
}

const isDelivery = (h: HistoryRecord): h is DeliveryRecord => h.type === "delivery";
const isAdmission = (h: HistoryRecord): h is AdmissionRecord => h.type === "admission";
const reqs = (h: HistoryRecord[]) => h.filter((r): r is RequestRecord => r.type === "req");

/** The first acknowledged revocation of each user: its 2xx time. */
function revocations(records: RequestRecord[]): Map<string, number> {
  const at = new Map<string, number>();
  for (const r of records) {
    if (r.op !== "user.revoke" || !ok(r.status)) continue;
    const user = String(r.summary.user);
    at.set(user, Math.min(at.get(user) ?? Number.POSITIVE_INFINITY, r.t1));
  }
  return at;
}

/**
 * (1) No message published more than the bound after a removal's or a
 * revocation's 2xx is delivered to the removed bot. A removal stops counting
 * once an invite of the same member to the same room is sent (it may be
 * back in by then, rightly); a revocation is for good.
 */
export function checkDataplaneRemovals(history: HistoryRecord[], opts: DataplaneCheckOptions): CheckResult {
  const requests = reqs(history);
  const removals = requests.filter((r) => r.op === "room.remove" && ok(r.status));
  const invites = requests.filter((r) => r.op === "room.invite");
  const revoked = revocations(requests);
  const deliveries = history.filter(isDelivery);
  const bad: string[] = [];
  for (const d of deliveries) {
    const revokedAt = revoked.get(d.bot);
    const out = removals.find((r) => {
      if (String(r.summary.member) !== d.bot || String(r.summary.room) !== d.room) return false;
      if (d.publishedAt <= r.t1 + opts.dataplaneBoundMs) return false;
      const back = invites.some(
        (i) =>
          String(i.summary.member) === d.bot &&
          String(i.summary.room) === d.room &&
          i.t0 > r.t0 &&
          i.t0 < d.publishedAt,
      );
      return !back;
    });
    const afterRevocation = revokedAt !== undefined && d.publishedAt > revokedAt + opts.dataplaneBoundMs;
    if (!out && !afterRevocation) continue;
    const since = out ? `removal #${out.id} answered at ${out.t1}` : `revocation answered at ${revokedAt}`;
    bad.push(`${d.bot.slice(0, 10)} got a message on ${d.room} published at ${d.publishedAt}, after ${since}`);
  }
  const relevant = removals.length + revoked.size;
  return result(
    "removed bots receive nothing past the bound",
    deliveries.length,
    bad,
    `${deliveries.length} deliveries, ${removals.length} acknowledged removals, ${revoked.size} revocations (bound ${opts.dataplaneBoundMs} ms)`,
    relevant === 0 || deliveries.length === 0,
  );
}

/**
 * (2) No connection admitted for an unregistered or a revoked key: every
 * admitted connect is of a key some acknowledged (or unanswered, so possibly
 * applied) user.add names and sent before the connect ended, and none
 * started after the key's revocation was acknowledged.
 */
export function checkDataplaneAdmissions(history: HistoryRecord[], opts: DataplaneCheckOptions): CheckResult {
  const requests = reqs(history);
  const addedFrom = new Map<string, number>();
  for (const r of requests) {
    if (r.op !== "user.add" || !(ok(r.status) || r.status === 0)) continue;
    const user = String(r.summary.user);
    addedFrom.set(user, Math.min(addedFrom.get(user) ?? Number.POSITIVE_INFINITY, r.t0));
  }
  const revoked = revocations(requests);
  const admissions = history.filter(isAdmission);
  const bad: string[] = [];
  for (const a of admissions.filter((x) => x.admitted)) {
    const from = addedFrom.get(a.bot);
    const revokedAt = revoked.get(a.bot);
    if (from === undefined || a.t1 < from) bad.push(`${a.bot.slice(0, 10)} admitted at ${a.t1}, never registered then`);
    else if (revokedAt !== undefined && a.t0 > revokedAt + opts.revokeBoundMs) {
      bad.push(`${a.bot.slice(0, 10)} admitted at ${a.t1}, revoked at ${revokedAt}`);
    }
  }
  const refused = admissions.length - admissions.filter((x) => x.admitted).length;
  return result(
    "no admission of an unregistered or revoked key",
    admissions.length,
    bad,
    `${admissions.length} connects (${refused} refused), ${revoked.size} revoked keys`,
    admissions.length === 0,
  );
}
