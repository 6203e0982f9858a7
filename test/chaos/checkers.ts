import type { AttachmentSample, FaultKind, FaultRecord, HistoryRecord, RequestRecord } from "./history.ts";

/** What the runner reads back once the faults are repaired and the workload has stopped. */
export interface FinalState {
  /** Every user, room and session event in the log, in log order. */
  events: { seq: number; type: string; aggregate: string; actor: string; data: Record<string, unknown> }[];
  /** Users as the API lists them to the admin (undefined: the API could not be read). */
  users?: Record<string, { status: string }>;
  /** Live projection vs a rebuild from the log, per projection (empty = equal). */
  projectionDiffs: Record<string, { table: string; key: string; live?: unknown; rebuilt?: unknown }[]>;
  /** Events a projection had not applied when the comparison ran. */
  projectionLag: Record<string, number>;
  /** Each acknowledged blob downloaded again at the end (blob service runs). */
  blobs?: Record<string, { status: number; sha256?: string; size?: number }>;
  /** The tenant's budget at the end (gateway runs). */
  budget?: BudgetSample;
  error?: string;
}

export interface BudgetSample {
  limits: { input: number; output: number };
  used: { input: number; output: number };
  reserved: { input: number; output: number };
}

export interface CheckOptions {
  /** A request sent this long after a revoke was acknowledged must be refused (ms; docs/chaos.md: at once). */
  revokeBoundMs: number;
  /** Requests starting within this long after quorum loss (or a partition) took effect are not judged. */
  windowMarginMs: number;
}

export interface CheckResult {
  name: string;
  /** WARN: worth a look, not a violated invariant. */
  verdict: "PASS" | "FAIL" | "N/A" | "WARN";
  checked: number;
  detail: string;
  counterexamples: string[];
}

export const ok = (s: number) => s >= 200 && s < 300;
/**
 * Got past the signed-request pipeline (signature, allowlist, nonce claim):
 * a 2xx, or a refusal only a route handler gives. 401 (auth), 429/413 (edge
 * limits), 503 and 0 (store or network) are not acceptances.
 */
export const accepted = (s: number) => ok(s) || s === 403 || s === 404 || s === 409;
const baseOp = (op: string) => op.replace(/^replay\./, "");
/** Writes the workload sends knowing they must be refused (bad.invite → checked like room.invite). */
const mustRefuse = (op: string) => op.startsWith("bad.");
const refusedKind = (op: string) => (mustRefuse(op) ? op.replace(/^bad\./, "room.") : baseOp(op));
const short = (s: unknown) => String(s).slice(0, 10);
export const describe = (r: RequestRecord) =>
  `#${r.id} ${r.op} via ${r.replica} by ${r.actor} at ${new Date(r.t0).toISOString().slice(11, 23)} → ${r.status}${r.error ? ` ${r.error}` : ""} ${JSON.stringify(r.summary).slice(0, 120)}`;

export function result(name: string, checked: number, bad: string[], detail: string, vacuous = false): CheckResult {
  return {
    name,
    verdict: bad.length > 0 ? "FAIL" : vacuous ? "N/A" : "PASS",
    checked,
    detail,
    counterexamples: bad.slice(0, 8),
  };
}

interface RoomFold {
  epoch: number;
  keyed: number;
  members: Set<string>;
}

/** Where each acknowledged-write kind shows up in the log, built by folding the events. */
interface LogIndex {
  userAdded: Map<string, number>;
  userRevoked: Map<string, number>;
  roomCreated: Map<string, { seq: number; owner: string }>;
  invites: Map<string, { seq: number; room: string; member: string; after: RoomFold }>;
  removals: Map<string, { seq: number; after: RoomFold }>;
  rekeys: Map<string, { seq: number; keys: Record<string, string>; after: RoomFold }>;
  sessionsIssued: Map<string, number>;
  sessionsRevoked: Map<string, number>;
}

/**
 * Folds room events with the documented rules (docs/rooms.md): creation opens
 * epoch 1 keyed; an invite adds a member; a removal opens epoch E+1 unkeyed
 * (e2e); a rekey keys the epoch it names. An independent model, so an ack
 * can be compared with what the log says happened.
 */
function indexLog(final: FinalState): LogIndex {
  const ix: LogIndex = {
    userAdded: new Map(),
    userRevoked: new Map(),
    roomCreated: new Map(),
    invites: new Map(),
    removals: new Map(),
    rekeys: new Map(),
    sessionsIssued: new Map(),
    sessionsRevoked: new Map(),
  };
  const rooms = new Map<string, RoomFold>();
  const snap = (r: RoomFold): RoomFold => ({ epoch: r.epoch, keyed: r.keyed, members: new Set(r.members) });
  for (const e of final.events) {
    const d = e.data;
    switch (e.type) {
      case "user.added":
        ix.userAdded.set(e.aggregate, e.seq);
        break;
      case "user.revoked":
        ix.userRevoked.set(e.aggregate, e.seq);
        break;
      case "session.issued":
        ix.sessionsIssued.set(e.aggregate, e.seq);
        break;
      case "session.revoked":
        ix.sessionsRevoked.set(e.aggregate, e.seq);
        break;
      case "room.created": {
        const r: RoomFold = { epoch: 1, keyed: d.mode === "e2e" ? 1 : 0, members: new Set([String(d.owner)]) };
        rooms.set(e.aggregate, r);
        ix.roomCreated.set(e.aggregate, { seq: e.seq, owner: String(d.owner) });
        break;
      }
      case "room.member_invited": {
        const r = rooms.get(e.aggregate);
        if (!r) break;
        r.members.add(String(d.member));
        if (d.sealed_key) {
          ix.invites.set(String(d.sealed_key), {
            seq: e.seq,
            room: e.aggregate,
            member: String(d.member),
            after: snap(r),
          });
        }
        break;
      }
      case "room.member_removed": {
        const r = rooms.get(e.aggregate);
        if (!r) break;
        r.members.delete(String(d.member));
        r.epoch += 1;
        ix.removals.set(`${e.aggregate}|${d.member}|${r.epoch}`, { seq: e.seq, after: snap(r) });
        break;
      }
      case "room.rekeyed": {
        const r = rooms.get(e.aggregate);
        if (!r) break;
        r.epoch = Number(d.epoch);
        r.keyed = Number(d.epoch);
        ix.rekeys.set(`${e.aggregate}|${d.epoch}`, {
          seq: e.seq,
          keys: d.sealed_keys as Record<string, string>,
          after: snap(r),
        });
        break;
      }
    }
  }
  return ix;
}

const sameKeys = (a: Record<string, string>, b: unknown) => {
  const bb = (b ?? {}) as Record<string, string>;
  const ka = Object.keys(a).sort();
  return JSON.stringify(ka) === JSON.stringify(Object.keys(bb).sort()) && ka.every((k) => a[k] === bb[k]);
};

/** The acknowledged answer of a room write must describe the room right after its event. */
function ackMatches(r: RequestRecord, after: RoomFold): string | undefined {
  const ack = r.ack as { epoch?: number; keyed_epoch?: number; members?: number } | undefined;
  if (!ack) return undefined;
  const want = { epoch: after.epoch, keyed_epoch: after.keyed, members: after.members.size };
  const got = { epoch: ack.epoch, keyed_epoch: ack.keyed_epoch, members: ack.members };
  return JSON.stringify(want) === JSON.stringify(got)
    ? undefined
    : `ack ${JSON.stringify(got)} but the log says ${JSON.stringify(want)}`;
}

/** Finds the log event of one acknowledged write; a string explains what is wrong. */
function locate(r: RequestRecord, ix: LogIndex, final: FinalState): { seq?: number } | string {
  const s = r.summary;
  switch (baseOp(r.op)) {
    case "user.add": {
      const seq = ix.userAdded.get(String(s.user));
      if (seq === undefined) return "no user.added in the log";
      if (final.users && !final.users[String(s.user)]) return "the API does not list the user";
      return { seq };
    }
    case "user.revoke": {
      const seq = ix.userRevoked.get(String(s.user));
      if (seq === undefined) return "no user.revoked in the log";
      if (final.users && final.users[String(s.user)]?.status !== "revoked") return "the API does not show it revoked";
      return { seq };
    }
    case "room.create": {
      const c = ix.roomCreated.get(String(s.room));
      if (!c) return "no room.created in the log";
      if (c.owner !== r.signer) return `room.created names owner ${short(c.owner)}, not the signer`;
      return { seq: c.seq };
    }
    case "room.invite": {
      const inv = ix.invites.get(String(s.sealed));
      if (!inv || inv.room !== s.room || inv.member !== s.member) return "no matching room.member_invited in the log";
      return ackMatches(r, inv.after) ?? { seq: inv.seq };
    }
    case "room.remove": {
      const epoch = (r.ack as { epoch?: number } | undefined)?.epoch;
      const rem = ix.removals.get(`${s.room}|${s.member}|${epoch}`);
      if (!rem) return `no room.member_removed opening epoch ${epoch} in the log`;
      return ackMatches(r, rem.after) ?? { seq: rem.seq };
    }
    case "room.rekey": {
      const rk = ix.rekeys.get(`${s.room}|${s.epoch}`);
      if (!rk || !sameKeys(rk.keys, s.keys)) return `no room.rekeyed to epoch ${s.epoch} with these keys in the log`;
      return ackMatches(r, rk.after) ?? { seq: rk.seq };
    }
    case "session.open": {
      const jti = String((r.ack as { jti?: string } | undefined)?.jti);
      const seq = ix.sessionsIssued.get(jti);
      return seq === undefined ? `no session.issued for jti ${short(jti)} in the log` : { seq };
    }
    case "token.revoke": {
      const seq = ix.sessionsRevoked.get(String(s.jti));
      return seq === undefined ? `no session.revoked for jti ${short(s.jti)} in the log` : { seq };
    }
    case "blob.put": {
      const got = final.blobs?.[String(s.sha256)];
      if (!got) return "not downloaded at the end";
      if (got.status !== 200) return `downloading it at the end answered ${got.status}`;
      if (got.sha256 !== s.sha256 || got.size !== s.size)
        return `downloaded bytes differ (${got.size} B, ${short(got.sha256)})`;
      return {};
    }
    case "budget.set": {
      const limits = final.budget?.limits;
      if (!limits) return "budget not readable at the end";
      if (limits.input < Number(s.input) || limits.output < Number(s.output)) {
        return `final limits ${JSON.stringify(limits)} below the acknowledged ${JSON.stringify(s)}`;
      }
      return {};
    }
    default:
      return "not a write";
  }
}

const WRITES = new Set([
  "user.add",
  "user.revoke",
  "room.create",
  "room.invite",
  "room.remove",
  "room.rekey",
  "session.open",
  "token.revoke",
  "blob.put",
  "budget.set",
]);

/** Every 2xx write is in the log (and the API) as acknowledged, and the log orders them as real time did. */
export function checkAcknowledgedWrites(records: RequestRecord[], final: FinalState): CheckResult[] {
  const ix = indexLog(final);
  const acked = records.filter((r) => ok(r.status) && WRITES.has(baseOp(r.op)));
  const lost: string[] = [];
  const placed: { r: RequestRecord; seq: number }[] = [];
  for (const r of acked) {
    const where = locate(r, ix, final);
    if (typeof where === "string") lost.push(`${describe(r)}: ${where}`);
    else if (where.seq !== undefined) placed.push({ r, seq: where.seq });
  }
  // Real-time order: a write acknowledged before another was sent precedes it in the log.
  const byEnd = [...placed].sort((a, b) => a.r.t1 - b.r.t1);
  const prefix: { seq: number; r: RequestRecord }[] = [];
  for (const p of byEnd) {
    const prev = prefix.at(-1);
    prefix.push(prev && prev.seq > p.seq ? prev : p);
  }
  const disorder: string[] = [];
  for (const b of placed) {
    let lo = 0;
    let hi = byEnd.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((byEnd[mid] as { r: RequestRecord }).r.t1 < b.r.t0) lo = mid + 1;
      else hi = mid;
    }
    const before = lo > 0 ? prefix[lo - 1] : undefined;
    if (before && before.seq > b.seq) {
      disorder.push(`${describe(before.r)} acked before ${describe(b.r)} was sent, yet seq ${before.seq} > ${b.seq}`);
    }
  }
  return [
    result(
      "acknowledged writes present",
      acked.length,
      lost,
      `${acked.length} acknowledged writes (users, rooms${final.budget ? ", sessions, revocations, budgets" : ""}${final.blobs ? ", blobs" : ""}) present afterwards; room acks equal the log's state`,
      acked.length === 0,
    ),
    result(
      "log order respects real time",
      placed.length,
      disorder,
      "a write acknowledged before another was sent has the lower log sequence",
      placed.length < 2,
    ),
  ];
}

/** A write refused with a definite 4xx must not be in the log (unless another send of it may have landed). */
export function checkRefusedWritesAbsent(records: RequestRecord[], final: FinalState): CheckResult {
  const ix = indexLog(final);
  const byNonce = groupByNonce(records);
  const bad: string[] = [];
  for (const r of records) {
    if (mustRefuse(r.op) && ok(r.status)) bad.push(`${describe(r)}: must be refused, was acknowledged`);
  }
  const refused = records.filter(
    (r) =>
      r.status >= 400 &&
      r.status < 500 &&
      (WRITES.has(baseOp(r.op)) || mustRefuse(r.op)) &&
      (byNonce.get(r.nonce) ?? []).every((x) => x.status >= 400 && x.status < 500),
  );
  let checked = 0;
  for (const r of refused) {
    const s = r.summary;
    let applied: boolean | undefined;
    switch (refusedKind(r.op)) {
      case "user.add":
        applied = ix.userAdded.has(String(s.user));
        break;
      case "room.create":
        applied = ix.roomCreated.has(String(s.room));
        break;
      case "room.invite":
        applied = ix.invites.has(String(s.sealed));
        break;
      case "room.rekey": {
        const rk = ix.rekeys.get(`${s.room}|${s.epoch}`);
        applied = rk !== undefined && sameKeys(rk.keys, s.keys);
        break;
      }
      default:
        applied = undefined; // removals and revocations are not uniquely identifiable
    }
    if (applied === undefined) continue;
    checked++;
    if (applied) bad.push(`${describe(r)}: refused, yet its event is in the log`);
  }
  const deliberate = records.filter((r) => mustRefuse(r.op)).length;
  return result(
    "refused writes not applied",
    checked,
    bad,
    `${checked} writes refused with 4xx (${deliberate} sent to be refused: member invites, revoked invitees, stale rekeys), none in the log`,
    checked === 0,
  );
}

function groupByNonce(records: RequestRecord[]): Map<string, RequestRecord[]> {
  const m = new Map<string, RequestRecord[]>();
  for (const r of records) m.set(r.nonce, [...(m.get(r.nonce) ?? []), r]);
  return m;
}

/** No nonce gets past the signed-request pipeline twice, on any replica. */
export function checkNonces(records: RequestRecord[]): CheckResult {
  const groups = [...groupByNonce(records).values()].filter((g) => g.length > 1);
  const bad: string[] = [];
  let refusedAsReplay = 0;
  let secondSightAfterFailure = 0;
  for (const g of groups) {
    const acc = g.filter((r) => accepted(r.status));
    if (acc.length > 1) bad.push(`nonce ${g[0]?.nonce} accepted ${acc.length}×: ${acc.map(describe).join(" | ")}`);
    refusedAsReplay += g.filter((r) => r.status === 401 && r.error?.includes("replay")).length;
    if (acc.length === 1 && acc[0]?.replayOf !== undefined) secondSightAfterFailure++;
  }
  const sends = groups.reduce((n, g) => n + g.length - 1, 0);
  return result(
    "no nonce accepted twice",
    groups.length,
    bad,
    `${groups.length} replayed requests (${sends} extra sends): ${refusedAsReplay} refused as replay; ${secondSightAfterFailure} replays accepted because the original was not (store unavailable before its claim)`,
    groups.length === 0,
  );
}

/** After a revocation is acknowledged, nothing that user signs gets through (on any replica). */
export function checkRevocations(records: RequestRecord[], opts: CheckOptions): CheckResult {
  const revokedAt = new Map<string, number>();
  for (const r of records) {
    if (baseOp(r.op) !== "user.revoke" || !ok(r.status)) continue;
    const user = String(r.summary.user);
    revokedAt.set(user, Math.min(revokedAt.get(user) ?? Number.POSITIVE_INFINITY, r.t1));
  }
  const later = records.filter((r) => {
    const at = revokedAt.get(r.signer);
    return at !== undefined && r.t0 > at + opts.revokeBoundMs;
  });
  const bad = later
    .filter((r) => accepted(r.status))
    .map((r) => `${describe(r)}: signer revoked at +${revokedAt.get(r.signer)}`);
  return result(
    "revoked users refused",
    later.length,
    bad,
    `${revokedAt.size} acknowledged revocations; ${later.length} later requests by revoked users (bound ${opts.revokeBoundMs} ms), all refused`,
    later.length === 0,
  );
}

interface Window {
  episode: number;
  from: number;
  to: number;
  /** Partition windows: whether a request went through a replica attached to the cut-off node all along. */
  onMinority?: (r: RequestRecord) => boolean;
}

function windows(history: HistoryRecord[], kind: "quorum" | "partition", margin: number): Window[] {
  // A quorum lost to a dead and a hung node is judged like one lost to two dead nodes; a node
  // whose outbound is silently dropped is a minority of one, like an isolated one.
  const kinds: FaultKind[] = kind === "quorum" ? ["quorum", "hung-quorum"] : ["partition", "oneway"];
  const faults = history.filter((h): h is FaultRecord => h.type === "fault" && kinds.includes(h.kind));
  const out: Window[] = [];
  for (const inject of faults.filter((f) => f.action === "inject")) {
    const restore = faults.find((f) => f.episode === inject.episode && f.action === "restore");
    if (!restore) continue;
    const w: Window = { episode: inject.episode, from: inject.t + margin, to: restore.t };
    if (kind === "partition") w.onMinority = minorityJudge(inject, restore);
    out.push(w);
  }
  return out;
}

/**
 * A request is judged as the minority side's when the sweeps around it — the
 * last one that ended before it was sent, the first one that started after it
 * was answered, and every one between — all show its replica on the cut-off
 * node. Replicas leave that node by themselves about a second after the cut,
 * so "attached at both ends of the window" alone would judge almost nothing.
 * A move away and back between two sweeps 250 ms apart cannot happen: a
 * connection stays at least a second on a node before it leaves it.
 */
function minorityJudge(inject: FaultRecord, restore: FaultRecord): (r: RequestRecord) => boolean {
  const node = inject.target[0];
  const attachedAt = (f: FaultRecord): AttachmentSample => ({
    ts: f.t,
    te: f.t,
    attached: (f.detail?.attached ?? {}) as Record<string, string>,
  });
  const timeline = [
    attachedAt(inject),
    ...((restore.detail?.timeline ?? []) as AttachmentSample[]),
    attachedAt(restore),
  ];
  return (r) => {
    let before = -1;
    for (let i = 0; i < timeline.length && (timeline[i] as AttachmentSample).te <= r.t0; i++) before = i;
    const after = timeline.findIndex((sample) => sample.ts >= r.t1);
    if (before < 0 || after < 0) return false;
    return timeline.slice(before, after + 1).every((sample) => sample.attached[r.replica] === node);
  };
}

function judgeWindows(name: string, history: HistoryRecord[], ws: Window[], what: string): CheckResult {
  const reqs = history.filter((h): h is RequestRecord => h.type === "req");
  const bad: string[] = [];
  const statuses = new Map<number, number>();
  let checked = 0;
  for (const w of ws) {
    for (const r of reqs) {
      if (r.t0 < w.from || r.t1 > w.to) continue;
      if (w.onMinority && !w.onMinority(r)) continue;
      checked++;
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (accepted(r.status)) bad.push(`episode ${w.episode}: ${describe(r)}`);
    }
  }
  const dist = [...statuses].map(([s, n]) => `${s}:${n}`).join(" ");
  return result(
    name,
    checked,
    bad,
    `${ws.length} windows, ${checked} ${what} (statuses ${dist || "none"})`,
    checked === 0,
  );
}

/** While two of three nodes are down, no signed request is allowed: denied or 503, never a 2xx. */
export function checkQuorumLoss(history: HistoryRecord[], opts: CheckOptions): CheckResult {
  return judgeWindows(
    "quorum loss: nothing accepted",
    history,
    windows(history, "quorum", opts.windowMarginMs),
    "requests sent and answered inside quorum loss",
  );
}

/** A replica attached to the isolated node serves no allow decision while the partition lasts. */
export function checkPartitionMinority(history: HistoryRecord[], opts: CheckOptions): CheckResult {
  const ws = windows(history, "partition", opts.windowMarginMs);
  return judgeWindows(
    "partition: minority side accepts nothing",
    history,
    ws,
    "requests through a replica on the minority side",
  );
}

/**
 * A planned restart (lame-duck mode, then a start on the same store) fails no
 * request: from the signal to the recovery, every request is answered, none
 * with a 5xx. The replicas attached to the node must have moved off it in time.
 */
export function checkPlannedRestarts(history: HistoryRecord[]): CheckResult {
  const faults = history.filter((h): h is FaultRecord => h.type === "fault" && h.kind === "planned");
  const reqs = history.filter((h): h is RequestRecord => h.type === "req");
  const bad: string[] = [];
  let checked = 0;
  let slowest = 0;
  const injects = faults.filter((f) => f.action === "inject");
  for (const inject of injects) {
    const end = faults.find((f) => f.episode === inject.episode && f.action !== "inject" && f.action !== "restore");
    const until = end?.t ?? Number.POSITIVE_INFINITY;
    for (const r of reqs) {
      if (r.t1 < inject.t || r.t0 > until) continue;
      checked++;
      slowest = Math.max(slowest, r.t1 - r.t0);
      if (r.status === 0 || r.status >= 500) bad.push(`episode ${inject.episode}: ${describe(r)}`);
    }
  }
  return result(
    "planned restart fails no request",
    checked,
    bad,
    `${injects.length} lame-duck restarts, ${checked} requests in flight from the signal to the recovery, ${bad.length} failed; slowest ${slowest} ms`,
    injects.length === 0,
  );
}

export function checkProjections(final: FinalState): CheckResult {
  const bad: string[] = [];
  for (const [name, diffs] of Object.entries(final.projectionDiffs)) {
    for (const d of diffs.slice(0, 4))
      bad.push(`${name}: ${d.table} ${d.key} differs from the rebuild: ${differingFields(d.live, d.rebuilt)}`);
    if (diffs.length > 4) bad.push(`${name}: ${diffs.length - 4} more differences`);
  }
  for (const [name, lag] of Object.entries(final.projectionLag))
    if (lag > 0) bad.push(`${name}: ${lag} events not applied at the end`);
  if (final.error) bad.push(final.error);
  const names = Object.keys(final.projectionDiffs);
  return result(
    "projections equal a rebuild",
    names.length,
    bad,
    `${names.join(", ")} rebuilt from the log and compared entry by entry`,
  );
}

/** Every repaired fault is followed by service on every replica within the bound. */
export function checkRecovery(history: HistoryRecord[], boundMs: number): CheckResult {
  const faults = history.filter((h): h is FaultRecord => h.type === "fault");
  const episodes = faults.filter((f) => f.action === "inject");
  const bad = faults
    .filter((f) => f.action === "recovery_timeout")
    .map(
      (f) =>
        `episode ${f.episode} (${f.kind} ${f.target.join(",")}): not serving ${boundMs} ms after the repair ${JSON.stringify(f.detail)}`,
    );
  for (const e of episodes) {
    if (!faults.some((f) => f.episode === e.episode && (f.action === "recovered" || f.action === "recovery_timeout"))) {
      bad.push(`episode ${e.episode} (${e.kind}): no recovery recorded`);
    }
  }
  return result(
    "service resumes after repair",
    episodes.length,
    bad,
    `${episodes.length} episodes, bound ${boundMs} ms`,
    episodes.length === 0,
  );
}

/**
 * Not an invariant of the issue, but docs/architecture.md: a store that cannot answer is a
 * 503, internal errors are bugs. Reported as WARN so it does not fail a run.
 */
export function checkInternalErrors(records: RequestRecord[]): CheckResult {
  const bad = records.filter((r) => r.status === 500).map(describe);
  return {
    name: "no internal errors (500)",
    verdict: bad.length > 0 ? "WARN" : "PASS",
    checked: records.length,
    detail: `${bad.length} answers were 500 (store unavailability must be 503)`,
    counterexamples: bad.slice(0, 8),
  };
}

/** The top-level fields two stored values disagree on, each as live → rebuilt (a counterexample must say what differs). */
export function differingFields(live: unknown, rebuilt: unknown): string {
  const fields = (v: unknown) => (v && typeof v === "object" ? (v as Record<string, unknown>) : { value: v });
  const a = fields(live);
  const b = fields(rebuilt);
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const show = (v: unknown) => JSON.stringify(v)?.slice(0, 300) ?? "absent";
  const differing = names.filter((n) => JSON.stringify(a[n]) !== JSON.stringify(b[n]));
  if (differing.length === 0) return "same fields in another order";
  return differing.map((n) => `${n}: ${show(a[n])} → ${show(b[n])}`).join("; ");
}
