import { type CheckResult, ok, result } from "./checkers.ts";
import type {
  AdmissionRecord,
  DeliveryRecord,
  FaultRecord,
  HistoryRecord,
  MetaRecord,
  RequestRecord,
} from "./history.ts";

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
  /**
   * The admission lifetime (ms, CONCLAVE_ACCESS_TTL_S of the run): what a live disconnect that
   * cannot be made costs at most (docs/dataplane.md, "What a missed disconnect costs"). Removals
   * whose bound overlaps a fault are judged against it; unset, every removal gets the plain bound.
   */
  admissionLifetimeMs?: number;
  /** How long after a fault's recovery kicks may still lag (the access feeds re-attach, ms). */
  faultSettleMs?: number;
}

/** A stretch of time in which a kick may not be possible: one fault episode, widened by margins. */
export interface FaultWindow {
  episode: number;
  kind: string;
  from: number;
  to: number;
}

const isDelivery = (h: HistoryRecord): h is DeliveryRecord => h.type === "delivery";
const isAdmission = (h: HistoryRecord): h is AdmissionRecord => h.type === "admission";
const reqs = (h: HistoryRecord[]) => h.filter((r): r is RequestRecord => r.type === "req");
/** A user add, or its deliberate replay (accepted when the original was refused before its nonce claim). */
const isUserAdd = (r: RequestRecord) => r.op === "user.add" || r.op === "replay.user.add";
/** Faults take effect a moment before their inject record is written (the kill, then the record). */
const INJECT_LEAD_MS = 500;

/** Users the runner registered before the workload (the bootstrap's owners and members: meta `registered`). */
const bootstrapped = (history: HistoryRecord[]) =>
  history.flatMap((h) => (h.type === "meta" ? (((h as MetaRecord).registered as string[] | undefined) ?? []) : []));

/** Whether the removed member was invited to the room again after removal `r` was sent and before `at`. */
function invitedBack(invites: RequestRecord[], r: RequestRecord, at: number): boolean {
  return invites.some(
    (i) =>
      String(i.summary.member) === String(r.summary.member) &&
      String(i.summary.room) === String(r.summary.room) &&
      i.t0 > r.t0 &&
      i.t0 < at,
  );
}

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
 * Each episode from its injection to its recovery (or recovery timeout) plus
 * `settleMs`; an episode that never recovered is open to the end of time.
 */
export function faultWindows(history: HistoryRecord[], settleMs: number): FaultWindow[] {
  const byEpisode = new Map<number, FaultWindow>();
  for (const f of history.filter((h): h is FaultRecord => h.type === "fault")) {
    const w = byEpisode.get(f.episode) ?? {
      episode: f.episode,
      kind: f.kind,
      from: f.t - INJECT_LEAD_MS,
      to: Number.POSITIVE_INFINITY,
    };
    if (f.action === "recovered" || f.action === "recovery_timeout") w.to = f.t + settleMs;
    byEpisode.set(f.episode, w);
  }
  return [...byEpisode.values()];
}

/**
 * Until when a bot removed (or revoked) by a 2xx at `t1` may still be handed
 * messages, by their publish time: the plain bound; or, when that bound
 * overlaps a fault (the kick may not be possible: a node down, paused or cut
 * off, the feeds without quorum), the admission lifetime after the 2xx — or
 * the fault's end, if later (a paused node delivers what it had queued when
 * it resumes) — plus the plain bound.
 */
function deadline(t1: number, windows: FaultWindow[], opts: DataplaneCheckOptions): number {
  const plain = t1 + opts.dataplaneBoundMs;
  if (opts.admissionLifetimeMs === undefined) return plain;
  const hit = faultsAround(t1, windows, opts);
  if (hit.length === 0) return plain;
  const end = Math.max(t1 + opts.admissionLifetimeMs, ...hit.map((w) => w.to));
  return end + opts.dataplaneBoundMs;
}

/** The fault windows that overlap a removal's plain bound. */
function faultsAround(t1: number, windows: FaultWindow[], opts: DataplaneCheckOptions): FaultWindow[] {
  return windows.filter((w) => w.from <= t1 + opts.dataplaneBoundMs && w.to >= t1);
}

/**
 * (1) No message published more than the bound after a removal's or a
 * revocation's 2xx is delivered to the removed bot. A removal stops counting
 * once an invite of the same member to the same room is sent (it may be
 * back in by then, rightly); a revocation is for good.
 */
export function checkDataplaneRemovals(history: HistoryRecord[], opts: DataplaneCheckOptions): CheckResult {
  const requests = reqs(history);
  const windows = faultWindows(history, opts.faultSettleMs ?? 0);
  const removals = requests.filter((r) => r.op === "room.remove" && ok(r.status));
  const invites = requests.filter((r) => r.op === "room.invite");
  const revoked = revocations(requests);
  const revokedUntil = new Map([...revoked].map(([bot, t]) => [bot, deadline(t, windows, opts)]));
  const removedUntil = new Map(removals.map((r) => [r, deadline(r.t1, windows, opts)]));
  const deliveries = history.filter(isDelivery);
  const bad: string[] = [];
  // Removals whose only fault was a planned restart: judged against the lifetime like any fault's,
  // and reported against the plain bound (a draining server's bots are kicked by their cids).
  let plannedLatest = Number.NEGATIVE_INFINITY;
  const planned = removals.filter((r) => {
    const hit = opts.admissionLifetimeMs === undefined ? [] : faultsAround(r.t1, windows, opts);
    return hit.length > 0 && hit.every((w) => w.kind === "planned");
  });
  for (const d of deliveries) {
    for (const r of planned) {
      if (String(r.summary.member) !== d.bot || String(r.summary.room) !== d.room) continue;
      if (d.publishedAt > r.t1 && !invitedBack(invites, r, d.publishedAt)) {
        plannedLatest = Math.max(plannedLatest, d.publishedAt - r.t1);
      }
    }
  }
  for (const d of deliveries) {
    const revokedAt = revoked.get(d.bot);
    const out = removals.find((r) => {
      if (String(r.summary.member) !== d.bot || String(r.summary.room) !== d.room) return false;
      if (d.publishedAt <= (removedUntil.get(r) as number)) return false;
      return !invitedBack(invites, r, d.publishedAt);
    });
    const afterRevocation = revokedAt !== undefined && d.publishedAt > (revokedUntil.get(d.bot) as number);
    if (!out && !afterRevocation) continue;
    const since = out ? `removal #${out.id} answered at ${out.t1}` : `revocation answered at ${revokedAt}`;
    bad.push(`${d.bot.slice(0, 10)} got a message on ${d.room} published at ${d.publishedAt}, after ${since}`);
  }
  const latest = plannedLatest === Number.NEGATIVE_INFINITY ? "none" : `${plannedLatest} ms`;
  const judged = listeningRemovals(history, opts);
  const lifetime =
    opts.admissionLifetimeMs === undefined ? "" : `, the others under a fault: lifetime ${opts.admissionLifetimeMs} ms`;
  return result(
    "data plane: removed bots receive nothing past the bound",
    deliveries.length,
    bad,
    `${deliveries.length} deliveries, ${removals.length} acknowledged removals, ${revoked.size} revocations; ` +
      `of a listening bot: ${judged.removals} removals, ${judged.revocations} revocations, ` +
      `${judged.plainBound} judged against ${opts.dataplaneBoundMs} ms${lifetime}; ` +
      `${planned.length} during a planned restart only, latest delivery after their 2xx: ${latest}`,
    removals.length + revoked.size === 0 || deliveries.length === 0,
  );
}

/**
 * The removals and revocations that the delivery check can catch: of a bot
 * that had received a message on that room (any room, for a revocation)
 * before the 2xx, so it was listening when it was taken out; and how many of
 * them were clear of faults (judged against the plain bound).
 */
export function listeningRemovals(
  history: HistoryRecord[],
  opts: DataplaneCheckOptions,
): { removals: number; revocations: number; plainBound: number } {
  const requests = reqs(history);
  const windows = faultWindows(history, opts.faultSettleMs ?? 0);
  const plain = (t1: number) => deadline(t1, windows, opts) === t1 + opts.dataplaneBoundMs;
  const firstHeard = new Map<string, number>();
  for (const d of history.filter(isDelivery)) {
    for (const key of [`${d.bot} ${d.room}`, d.bot]) {
      firstHeard.set(key, Math.min(firstHeard.get(key) ?? Number.POSITIVE_INFINITY, d.receivedAt));
    }
  }
  const heardBefore = (key: string, t: number) => (firstHeard.get(key) ?? Number.POSITIVE_INFINITY) < t;
  const removed = requests.filter(
    (r) => r.op === "room.remove" && ok(r.status) && heardBefore(`${r.summary.member} ${r.summary.room}`, r.t1),
  );
  const revoked = [...revocations(requests)].filter(([bot, t]) => heardBefore(bot, t));
  const plainBound = removed.filter((r) => plain(r.t1)).length + revoked.filter(([, t]) => plain(t)).length;
  return { removals: removed.length, revocations: revoked.length, plainBound };
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
    if (!isUserAdd(r) || !(ok(r.status) || r.status === 0)) continue;
    const user = String(r.summary.user);
    addedFrom.set(user, Math.min(addedFrom.get(user) ?? Number.POSITIVE_INFINITY, r.t0));
  }
  for (const user of bootstrapped(history)) addedFrom.set(user, Number.NEGATIVE_INFINITY);
  const revoked = revocations(requests);
  const admissions = history.filter(isAdmission);
  const bad: string[] = [];
  for (const a of admissions.filter((x) => x.admitted)) {
    const from = addedFrom.get(a.bot);
    const revokedAt = revoked.get(a.bot);
    if (from === undefined || a.t1 < from) bad.push(`${a.bot.slice(0, 10)} admitted at ${a.t1}, never registered then`);
    else if (revokedAt !== undefined && a.t0 >= revokedAt + opts.revokeBoundMs) {
      bad.push(`${a.bot.slice(0, 10)} admitted at ${a.t1}, revoked at ${revokedAt}`);
    }
  }
  const refused = admissions.length - admissions.filter((x) => x.admitted).length;
  const probes = dataplaneProbes(history);
  return result(
    "data plane: no admission of an unregistered or revoked key",
    admissions.length,
    bad,
    `${admissions.length} connects (${refused} refused), ${revoked.size} revoked keys; ` +
      `probes: ${probes.unregistered} by unregistered keys, ${probes.revoked} by revoked keys after their revocation`,
    admissions.length === 0,
  );
}

/** Connects by keys that must be refused: never registered, or started after the key's revocation's 2xx. */
export function dataplaneProbes(history: HistoryRecord[]): { unregistered: number; revoked: number } {
  const requests = reqs(history);
  const added = new Set(requests.filter(isUserAdd).map((r) => String(r.summary.user)));
  for (const user of bootstrapped(history)) added.add(user);
  const revoked = revocations(requests);
  const admissions = history.filter(isAdmission);
  return {
    unregistered: admissions.filter((a) => !added.has(a.bot)).length,
    revoked: admissions.filter((a) => a.t0 >= (revoked.get(a.bot) ?? Number.POSITIVE_INFINITY)).length,
  };
}

/** How late a removal or revocation of a listening bot took effect, and where it fell against the faults. */
export interface RemovalLag {
  what: "removal" | "revocation";
  /** The 2xx. */
  at: number;
  /** The publish time of the last message delivered after the 2xx, minus the 2xx (0: none). */
  lagMs: number;
  /** The episode the 2xx fell in (no `afterRecoveryMs`) or followed within a minute of its recovery. */
  near?: { episode: number; kind: string; afterRecoveryMs?: number };
}

const NEAR_RECOVERY_MS = 60_000;
const withNear = (lag: RemovalLag, near: RemovalLag["near"]): RemovalLag => (near ? { ...lag, near } : lag);

/**
 * The figure behind `faultSettleMs`: per listening removal and revocation,
 * how long after its 2xx messages still reached the bot, next to the fault it
 * fell in or followed. Read by the run's summary (docs/chaos.md).
 */
export function removalLags(history: HistoryRecord[]): RemovalLag[] {
  const requests = reqs(history);
  const windows = faultWindows(history, 0);
  const deliveries = history.filter(isDelivery);
  const invites = requests.filter((r) => r.op === "room.invite");
  const near = (t: number): RemovalLag["near"] => {
    const within = windows.find((w) => w.from <= t && t <= w.to);
    if (within) return { episode: within.episode, kind: within.kind };
    const after = windows.filter((w) => w.to < t && t - w.to <= NEAR_RECOVERY_MS).sort((a, b) => b.to - a.to)[0];
    return after && { episode: after.episode, kind: after.kind, afterRecoveryMs: t - after.to };
  };
  const lag = (at: number, late: DeliveryRecord[]) => Math.max(0, ...late.map((d) => d.publishedAt - at));
  const out: RemovalLag[] = [];
  for (const r of requests.filter((x) => x.op === "room.remove" && ok(x.status))) {
    const bot = String(r.summary.member);
    const room = String(r.summary.room);
    const ofRoom = deliveries.filter((d) => d.bot === bot && d.room === room);
    if (!ofRoom.some((d) => d.receivedAt < r.t1)) continue;
    const late = ofRoom.filter((d) => d.publishedAt > r.t1 && !invitedBack(invites, r, d.publishedAt));
    out.push(withNear({ what: "removal", at: r.t1, lagMs: lag(r.t1, late) }, near(r.t1)));
  }
  for (const [bot, at] of revocations(requests)) {
    const ofBot = deliveries.filter((d) => d.bot === bot);
    if (!ofBot.some((d) => d.receivedAt < at)) continue;
    out.push({
      what: "revocation",
      at,
      lagMs: lag(
        at,
        ofBot.filter((d) => d.publishedAt > at),
      ),
      near: near(at),
    });
  }
  return out.sort((a, b) => a.at - b.at);
}
