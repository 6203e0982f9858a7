import { ownValue } from "@conclave/protocol";
import { z } from "zod";

/**
 * One tenant's blob usage (blobQuota bucket, key `quota.<tenant>`): bytes and
 * blobs stored, plus the uploads in flight, each holding its worst-case size
 * and one blob until it commits or is released. Every operation carries an id
 * and is idempotent, so a CAS retried after an unknown outcome changes
 * nothing. Pure functions, as the gateway's budget-state.ts; blob-quota.ts
 * stores them.
 */
const units = z.number().int().nonnegative().safe();

export const blobQuotaState = z
  .object({
    bytes: units,
    count: units,
    /** Uploads in flight: id → reserved bytes and lease expiry (ms since the epoch). */
    reservations: z.record(z.string().max(64), z.object({ bytes: units, expires: z.number().int() }).strict()),
    /** Ids committed or released recently, newest last: a retried operation is recognised. */
    done: z.array(z.string().max(64)).max(256),
  })
  .strict();

export type BlobQuotaState = z.infer<typeof blobQuotaState>;

export interface BlobQuotaLimits {
  bytes: number;
  count: number;
}

/** A tenant cannot upload more blobs at once than this (keeps the value small; beyond it: 503). */
export const MAX_LIVE_UPLOADS = 256;
const DONE_MEMORY = 256;

export type QuotaOp =
  | { kind: "reserve"; id: string; bytes: number; limits: BlobQuotaLimits; leaseMs: number }
  /** Stored: charged its real size (at most what it reserved) and one blob. */
  | { kind: "commit"; id: string; bytes: number }
  /** Surely not stored (refused body, lost the create race): the reservation is returned. */
  | { kind: "release"; id: string };

export type QuotaResult =
  | { ok: true }
  | { ok: false; why: "bytes" | "count"; total: number; limit: number }
  | { ok: false; why: "too_many_in_flight" };

/**
 * The state as of `now`: a reservation whose lease ended is charged as if its
 * blob were stored (its replica may have died after the commit): an
 * over-count, never an under-count — the quota never lets more through.
 */
export function currentQuota(stored: BlobQuotaState | undefined, now: number): BlobQuotaState {
  const state: BlobQuotaState = stored
    ? {
        ...stored,
        reservations: Object.assign(Object.create(null) as BlobQuotaState["reservations"], stored.reservations),
        done: [...stored.done],
      }
    : { bytes: 0, count: 0, reservations: Object.create(null) as BlobQuotaState["reservations"], done: [] };
  for (const [id, r] of Object.entries(state.reservations)) {
    if (r.expires > now) continue;
    delete state.reservations[id];
    charge(state, r.bytes);
    remember(state, id);
  }
  return state;
}

function charge(state: BlobQuotaState, bytes: number): void {
  state.bytes = Math.min(Number.MAX_SAFE_INTEGER, state.bytes + bytes);
  state.count = Math.min(Number.MAX_SAFE_INTEGER, state.count + 1);
}

function remember(state: BlobQuotaState, id: string): void {
  state.done.push(id);
  if (state.done.length > DONE_MEMORY) state.done.splice(0, state.done.length - DONE_MEMORY);
}

/** Live reservations' bytes and count. */
export function inFlight(state: BlobQuotaState): { bytes: number; count: number } {
  const live = Object.values(state.reservations);
  return { bytes: live.reduce((sum, r) => Math.min(Number.MAX_SAFE_INTEGER, sum + r.bytes), 0), count: live.length };
}

/** Applies one operation. `next` is undefined when nothing needs writing. */
export function applyQuotaOp(
  stored: BlobQuotaState | undefined,
  op: QuotaOp,
  now: number,
): { next: BlobQuotaState | undefined; result: QuotaResult } {
  const state = currentQuota(stored, now);
  const expired =
    stored !== undefined && Object.keys(stored.reservations).length !== Object.keys(state.reservations).length;
  const unchanged = { next: expired ? state : undefined, result: { ok: true } as QuotaResult };
  const live = ownValue(state.reservations, op.id);
  if (op.kind === "reserve") {
    if (live || state.done.includes(op.id)) return unchanged;
    const flying = inFlight(state);
    if (flying.count >= MAX_LIVE_UPLOADS) return { next: undefined, result: { ok: false, why: "too_many_in_flight" } };
    // Compared as room left, never as a saturated sum.
    if (op.bytes > op.limits.bytes - state.bytes - flying.bytes) {
      return {
        next: undefined,
        result: { ok: false, why: "bytes", total: state.bytes + flying.bytes + op.bytes, limit: op.limits.bytes },
      };
    }
    if (state.count + flying.count + 1 > op.limits.count) {
      return {
        next: undefined,
        result: { ok: false, why: "count", total: state.count + flying.count + 1, limit: op.limits.count },
      };
    }
    state.reservations[op.id] = { bytes: op.bytes, expires: now + op.leaseMs };
    return { next: state, result: { ok: true } };
  }
  if (!live) return unchanged;
  delete state.reservations[op.id];
  if (op.kind === "commit") charge(state, Math.min(op.bytes, live.bytes));
  remember(state, op.id);
  return { next: state, result: { ok: true } };
}
