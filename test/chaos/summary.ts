import type { CheckResult } from "./checkers.ts";
import { type RemovalLag, removalLags } from "./dataplane-checkers.ts";
import type { FaultKind, FaultRecord, HistoryRecord, RequestRecord } from "./history.ts";

export interface EpisodeFigures {
  episode: number;
  kind: FaultKind;
  target: string;
  heldMs: number;
  requests: number;
  /** Share of requests sent from the injection to the recovery that got an answer other than 5xx / no answer. */
  availability: number | undefined;
  /** Longest stretch without an acknowledged write, from the injection to the recovery. */
  writeGapMs: number | undefined;
  storeRecoveryMs: number | undefined;
  /** Per service, when its last replica served again after the repair. */
  serviceRecoveryMs: Record<string, number>;
  /** Per service, when the raw NATS operations its probe needs succeeded again. */
  rawRecoveryMs: Record<string, number>;
  /** Per replica: its first success minus raw NATS through the node it is attached to (Conclave's share). */
  ownMs: Record<string, number>;
  healthyMs: number | undefined;
}

export interface Figures {
  requests: number;
  byOutcome: Record<string, number>;
  byOp: Record<string, Record<string, number>>;
  faults: Record<string, number>;
  episodes: EpisodeFigures[];
  availabilityOneNodeDown: number | undefined;
  /**
   * After quorum returns, per service: when the raw NATS operations its probe
   * needs succeeded, when its last replica served, and the difference (what
   * Conclave adds: reconnects, caches, retries).
   */
  quorumRecovery: {
    storeMs: number;
    serviceMs: Record<string, number>;
    rawMs: Record<string, number>;
    overheadMs: Record<string, number>;
  }[];
  /** Per listening removal and revocation of a data-plane bot: how late it took effect. */
  removalLags: RemovalLag[];
}

const outcome = (r: RequestRecord) =>
  r.status === 0
    ? r.error === "timeout"
      ? "timeout"
      : "no answer"
    : r.status >= 500
      ? String(r.status)
      : `${Math.floor(r.status / 100)}xx`;
const answered = (r: RequestRecord) => r.status > 0 && r.status < 500;
const isWrite = (r: RequestRecord) =>
  ["user.add", "user.revoke", "room.create", "room.invite", "room.remove", "room.rekey"].includes(r.op);
const pct = (x: number | undefined) => (x === undefined ? "-" : `${(x * 100).toFixed(1)}%`);
const ms = (x: number | undefined) => (x === undefined ? "-" : `${(x / 1000).toFixed(1)} s`);

export function computeFigures(history: HistoryRecord[]): Figures {
  const reqs = history.filter((h): h is RequestRecord => h.type === "req");
  const faults = history.filter((h): h is FaultRecord => h.type === "fault");
  const byOutcome: Record<string, number> = {};
  const byOp: Record<string, Record<string, number>> = {};
  for (const r of reqs) {
    const o = outcome(r);
    byOutcome[o] = (byOutcome[o] ?? 0) + 1;
    const row = byOp[r.op] ?? {};
    byOp[r.op] = row;
    row[o] = (row[o] ?? 0) + 1;
    row.total = (row.total ?? 0) + 1;
  }
  const episodes: EpisodeFigures[] = [];
  const counts: Record<string, number> = {};
  for (const inject of faults.filter((f) => f.action === "inject")) {
    counts[inject.kind] = (counts[inject.kind] ?? 0) + 1;
    const of = faults.filter((f) => f.episode === inject.episode);
    const restore = of.find((f) => f.action === "restore");
    const recovered = of.find((f) => f.action === "recovered" || f.action === "recovery_timeout");
    const end = restore?.t ?? inject.t;
    const until = recovered?.t ?? end;
    const during = reqs.filter((r) => r.t0 >= inject.t && r.t0 <= until);
    const writes = reqs
      .filter((r) => isWrite(r) && r.status >= 200 && r.status < 300 && r.t1 >= inject.t && r.t1 <= until)
      .map((r) => r.t1)
      .sort((a, b) => a - b);
    const points = [inject.t, ...writes, until];
    let gap = 0;
    for (let i = 1; i < points.length; i++) gap = Math.max(gap, (points[i] as number) - (points[i - 1] as number));
    const d = (recovered?.detail ?? {}) as {
      storeMs?: number;
      rawMs?: Record<string, number>;
      ownMs?: Record<string, number>;
      byService?: Record<string, number>;
      healthyMs?: number;
    };
    episodes.push({
      episode: inject.episode,
      kind: inject.kind,
      target: inject.target.join(","),
      heldMs: end - inject.t,
      requests: during.length,
      availability: during.length > 0 ? during.filter(answered).length / during.length : undefined,
      writeGapMs: gap,
      storeRecoveryMs: d.storeMs,
      serviceRecoveryMs: d.byService ?? {},
      rawRecoveryMs: d.rawMs ?? {},
      ownMs: d.ownMs ?? {},
      healthyMs: d.healthyMs,
    });
  }
  const oneDown = reqs.filter((r) =>
    faults.some((f) => {
      if (f.action !== "inject" || (f.kind !== "kill" && f.kind !== "pause")) return false;
      const restore = faults.find((g) => g.episode === f.episode && g.action === "restore");
      return restore !== undefined && r.t0 >= f.t && r.t0 <= restore.t;
    }),
  );
  return {
    requests: reqs.length,
    byOutcome,
    byOp,
    faults: counts,
    episodes,
    removalLags: removalLags(history),
    availabilityOneNodeDown: oneDown.length > 0 ? oneDown.filter(answered).length / oneDown.length : undefined,
    quorumRecovery: episodes
      .filter((e) => (e.kind === "quorum" || e.kind === "hung-quorum") && e.storeRecoveryMs !== undefined)
      .map((e) => {
        const overheadMs: Record<string, number> = {};
        for (const [svc, at] of Object.entries(e.serviceRecoveryMs)) {
          // Runs before per-service raw probes: measured against the membership read's operations.
          const raw = e.rawRecoveryMs[svc] ?? (e.storeRecoveryMs as number);
          overheadMs[svc] = at - raw;
        }
        return {
          storeMs: e.storeRecoveryMs as number,
          serviceMs: e.serviceRecoveryMs,
          rawMs: e.rawRecoveryMs,
          overheadMs,
        };
      }),
  };
}

/** Per service, the largest recovery delay of its own (service minus raw NATS) over the quorum episodes. */
function worstOverhead(f: Figures): Record<string, number> {
  const out: Record<string, number> = {};
  for (const q of f.quorumRecovery)
    for (const [svc, v] of Object.entries(q.overheadMs)) out[svc] = Math.max(out[svc] ?? Number.NEGATIVE_INFINITY, v);
  return out;
}

/** Per fault kind, the replica that trailed raw NATS through its own node the most. */
function worstOwnShare(f: Figures): Record<string, { ms: number; replica: string; episode: number }> {
  const out: Record<string, { ms: number; replica: string; episode: number }> = {};
  for (const e of f.episodes)
    for (const [replica, v] of Object.entries(e.ownMs)) {
      const cur = out[e.kind];
      if (!cur || v > cur.ms) out[e.kind] = { ms: v, replica, episode: e.episode };
    }
  return out;
}

/** Lags of removals near faults are listed only past this (the plain bound is 1 s). */
const LISTED_LAG_MS = 500;

function renderLags(lags: RemovalLag[]): string {
  if (lags.length === 0) return "-";
  const max = (of: RemovalLag[]) => (of.length > 0 ? ms(Math.max(...of.map((l) => l.lagMs))) : "-");
  const clear = lags.filter((l) => !l.near);
  const during = lags.filter((l) => l.near && l.near.afterRecoveryMs === undefined);
  const after = lags.filter((l) => l.near?.afterRecoveryMs !== undefined);
  const where = (l: RemovalLag) => {
    const n = l.near as NonNullable<RemovalLag["near"]>;
    const at = n.afterRecoveryMs === undefined ? "during" : `${ms(n.afterRecoveryMs)} after the recovery of`;
    return `${ms(l.lagMs)} (${l.what} ${at} ${n.kind} #${n.episode})`;
  };
  const listed = lags.filter((l) => l.near && l.lagMs > LISTED_LAG_MS).map(where);
  return (
    `${clear.length} clear of faults (max ${max(clear)}), ${during.length} during one (max ${max(during)}), ` +
    `${after.length} within a minute after a recovery (max ${max(after)}); over ${ms(LISTED_LAG_MS)}: ${listed.join(", ") || "none"}`
  );
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)];
}

/** The summary printed at the end of a run (Markdown tables, pasteable into docs/chaos.md). */
export function renderSummary(f: Figures, checks: CheckResult[], meta: Record<string, unknown>): string {
  const out: string[] = [];
  out.push(
    `## Chaos run: ${Object.entries(meta)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`,
    "",
  );
  const outcomes = ["2xx", "4xx", "503", "500", "timeout", "no answer"];
  const extra = Object.keys(f.byOutcome).filter((o) => !outcomes.includes(o));
  const cols = [...outcomes, ...extra];
  out.push(`Requests: ${f.requests}`, "");
  out.push(
    ...table(
      ["operation", "total", ...cols],
      Object.entries(f.byOp)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([op, row]) => [op, String(row.total ?? 0), ...cols.map((c) => String(row[c] ?? 0))]),
    ),
    "",
  );
  out.push(
    `Faults injected: ${
      Object.entries(f.faults)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "none"
    }`,
    `Availability with one node down or paused (answered without 5xx): ${pct(f.availabilityOneNodeDown)}`,
    `Recovery after quorum returns (from the restart of the two nodes to the first success; raw = the NATS operations that service's probe needs): ${
      f.quorumRecovery
        .map((q) =>
          Object.entries(q.serviceMs)
            .map(([svc, v]) => `${svc} ${ms(v)} (raw ${ms(q.rawMs[svc] ?? q.storeMs)}, adds ${ms(q.overheadMs[svc])})`)
            .join(", "),
        )
        .join("; ") || "-"
    }`,
    `Conclave's own share of the recovery after quorum returns, worst episode: ${
      Object.entries(worstOverhead(f))
        .map(([svc, v]) => `${svc} +${ms(v)}`)
        .join(", ") || "-"
    }`,
    `Data-plane removals and revocations of listening bots, the last delivery's publish time after the 2xx: ${renderLags(f.removalLags)}`,
    `Conclave's own share of every recovery (a replica's first success minus raw NATS through the node it is attached to), worst per fault kind: ${
      Object.entries(worstOwnShare(f))
        .map(([kind, w]) => `${kind} ${w.ms >= 0 ? "+" : ""}${ms(w.ms)} (${w.replica}, #${w.episode})`)
        .join(", ") || "-"
    }`,
    "",
  );
  const services = [...new Set(f.episodes.flatMap((e) => Object.keys(e.serviceRecoveryMs)))].sort((a, b) =>
    a === "membership" ? -1 : b === "membership" ? 1 : a.localeCompare(b),
  );
  out.push(
    ...table(
      [
        "#",
        "fault",
        "target",
        "held",
        "requests",
        "answered",
        "longest write gap",
        "NATS back",
        ...services.map((svc) => `${svc} back`),
        "nodes healthy",
      ],
      f.episodes.map((e) => [
        String(e.episode),
        e.kind,
        e.target,
        ms(e.heldMs),
        String(e.requests),
        pct(e.availability),
        ms(e.writeGapMs),
        ms(e.storeRecoveryMs),
        ...services.map((svc) => ms(e.serviceRecoveryMs[svc])),
        ms(e.healthyMs),
      ]),
    ),
    "",
  );
  out.push(
    ...table(
      ["invariant", "verdict", "checked", "detail"],
      checks.map((c) => [c.name, c.verdict, String(c.checked), c.detail]),
    ),
  );
  for (const c of checks.filter((c) => c.verdict === "FAIL" || c.verdict === "WARN")) {
    out.push("", `Counterexamples for "${c.name}":`, ...c.counterexamples.map((x) => `  - ${x}`));
  }
  return out.join("\n");
}
