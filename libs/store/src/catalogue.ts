// Every bucket, stream, object store and subject of Conclave, declared once.
// Nothing else in the codebase spells a bucket or stream name.

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const HOUR = 3_600_000;

/**
 * What JetStream does when an asset reaches its byte limit (docs/store.md, "Bounds"):
 * `refuse_new` (DiscardNew: the write fails, the service answers 503 and denies, nothing
 * stored is lost) or `discard_old` (DiscardOld: the oldest messages go to make room).
 * KV buckets are always `refuse_new` (the client library creates them so).
 */
export type WhenFull = "refuse_new" | "discard_old";

/** Every stream-backed asset has one: a default byte limit, overridable by configuration. */
export interface Bounded {
  /** Default byte limit of the whole asset (all keys, all revisions); CONCLAVE_STORE_MAX_BYTES overrides it. */
  maxBytes: number;
  whenFull: WhenFull;
}

export interface BucketSpec extends Bounded {
  /** KV bucket name (the stream is KV_<name>). */
  name: string;
  /** Revisions kept per key. */
  history: number;
  /** Bucket-wide max age (works on every server >= 2.10; per-key TTL does not). */
  ttlMs?: number;
  /**
   * How long a deleted key's marker stays (its message TTL, NATS >= 2.11) before it leaves the
   * stream: a bucket whose keys come and go (membership) would otherwise keep one marker per
   * key ever deleted, which listings step over and which fill the bucket (TOMBSTONE_TTL_MS).
   */
  tombstoneTtlMs?: number;
  /** Writes carry their own lifetime (WriteOptions.ttlMs; per-message TTLs, NATS >= 2.11). */
  expiringWrites?: boolean;
  maxValueBytes: number;
  /** Read for allow/deny decisions: leader reads only, never direct gets (docs/store.md). */
  security: boolean;
  purpose: string;
}

export interface StreamSpec extends Bounded {
  name: string;
  subjects: string[];
  maxAgeMs?: number;
  maxMsgBytes: number;
  /** Window of Nats-Msg-Id de-duplication: retried appends inside it apply once. */
  duplicateWindowMs: number;
  /** Domain history is immutable: no deletes, no purges. */
  immutable: boolean;
  purpose: string;
}

/** Replay window of signed requests: ±30 s of clock skew around the verifying replica's clock. */
export const MAX_CLOCK_SKEW_MS = 30_000;
/**
 * How far a replica's clock may run behind the one that claimed a nonce (or
 * the stream leader's, which ages the claim out) before a replay gets through.
 * NTP keeps real clocks within milliseconds; 30 s covers a broken one.
 */
export const NONCE_CLOCK_MARGIN_MS = 30_000;

/**
 * A claim must outlive the last moment any replica accepts its `created`: the
 * claim is written as early as created − skew (real time) and a replica whose
 * clock lags by d accepts until created + skew + d. So 2 × skew + the lag
 * tolerated; 2 × skew alone let a lagging replica accept a replay once the
 * claim had aged out (issue 15, item 12).
 */
export function nonceTtlMs(skewMs: number, marginMs: number): number {
  return 2 * skewMs + marginMs;
}
/**
 * Lifetime of a projection's delete markers. A marker is needed only while something may still
 * act on the key's earlier state: an applier of an older event that read before the delete
 * (its guard is the marker's event sequence; appliers take seconds, each write under the
 * operation deadline) and the auth callout's change feed (a change older than an admission,
 * 15 s, is moot). An hour covers both with a wide margin; after it the key is as if never
 * written, and a room left an hour ago costs its former member's listings nothing.
 */
export const TOMBSTONE_TTL_MS = HOUR;

/** Longest session token lifetime (docs/gateway.md): revocations must outlive it. */
export const MAX_TOKEN_LIFETIME_MS = 24 * HOUR;

/**
 * Sizing of the nonce bucket: claims per second it must hold for a whole TTL
 * (cluster-wide, signed requests of active users: about twice the gateway's
 * measured peak), and the bytes one claim takes on disk (subject with the
 * hashed key, msg-id header, value, JetStream's per-message overhead; measured
 * ~200 B). A full bucket refuses new claims (fail closed) only until the
 * oldest age out: at most one TTL, never forever.
 */
export const NONCE_CLAIMS_PER_S = 5_000;
export const NONCE_CLAIM_BYTES = 256;

export const BUCKETS = {
  users: {
    name: "conclave_users",
    history: 5,
    maxValueBytes: 64 * 1024,
    security: true,
    maxBytes: 256 * MiB,
    whenFull: "refuse_new",
    purpose: "users allowlist (projection)",
  },
  userIndex: {
    name: "conclave_user_index",
    history: 1,
    // A chunk of 128 sign_pubs (~6 KiB of JSON).
    maxValueBytes: 16 * 1024,
    security: false,
    // Each user in two chunks (its tenant's, every tenant's): 10^6 users × 2 × ~50 B, with room.
    maxBytes: 256 * MiB,
    whenFull: "refuse_new",
    purpose: "users by tenant in registration order, chunks tenant.n and a head (projection)",
  },
  rooms: {
    name: "conclave_rooms",
    history: 5,
    maxValueBytes: 256 * 1024,
    security: true,
    maxBytes: 512 * MiB,
    whenFull: "refuse_new",
    purpose: "room state (projection)",
  },
  memberRooms: {
    name: "conclave_member_rooms",
    history: 1,
    tombstoneTtlMs: TOMBSTONE_TTL_MS,
    maxValueBytes: 16 * 1024,
    security: true,
    maxBytes: 64 * MiB,
    whenFull: "refuse_new",
    purpose: "reverse index member.room (projection)",
  },
  roomKeys: {
    name: "conclave_room_keys",
    history: 1,
    tombstoneTtlMs: TOMBSTONE_TTL_MS,
    maxValueBytes: 16 * 1024,
    security: true,
    maxBytes: 256 * MiB,
    whenFull: "refuse_new",
    purpose: "sealed room keys, key room.epoch.member (projection)",
  },
  nonces: {
    name: "conclave_nonces",
    history: 1,
    ttlMs: nonceTtlMs(MAX_CLOCK_SKEW_MS, NONCE_CLOCK_MARGIN_MS),
    maxValueBytes: 1024,
    security: true,
    // 5,000 claims/s × 90 s (the TTL with room for a skew margin) × 256 B ≈ 110 MiB.
    maxBytes: 128 * MiB,
    whenFull: "refuse_new",
    purpose: "anti-replay claims, created atomically",
  },
  revoked: {
    name: "conclave_revoked",
    history: 1,
    ttlMs: MAX_TOKEN_LIFETIME_MS + HOUR,
    maxValueBytes: 4 * 1024,
    security: true,
    maxBytes: 128 * MiB,
    whenFull: "refuse_new",
    purpose: "revoked session token ids",
  },
  budgets: {
    name: "conclave_budgets",
    history: 1,
    maxValueBytes: 256 * 1024,
    security: true,
    maxBytes: 128 * MiB,
    whenFull: "refuse_new",
    purpose: "budget counters and reservations, CAS",
  },
  ratelimits: {
    name: "conclave_ratelimits",
    history: 1,
    ttlMs: 2 * 60_000,
    maxValueBytes: 4 * 1024,
    security: true,
    maxBytes: 32 * MiB,
    whenFull: "refuse_new",
    purpose: "rate-limit windows, CAS",
  },
  blobQuota: {
    name: "conclave_blob_quota",
    history: 1,
    maxValueBytes: 64 * 1024,
    maxBytes: 16 * MiB,
    whenFull: "refuse_new",
    security: true,
    purpose: "per-tenant blob usage (bytes, count) and upload reservations, CAS",
  },
  botConnections: {
    name: "conclave_bot_connections",
    history: 1,
    // Each entry lives as long as the admission it records (the callout's lifetime, plus a margin).
    expiringWrites: true,
    maxValueBytes: 256,
    security: false,
    // One entry per admitted connection for its lifetime (~250 B on disk): 10^5 bots each with
    // two connections and one reconnect in flight is ~75 MiB. Full: admissions are refused.
    maxBytes: 128 * MiB,
    whenFull: "refuse_new",
    purpose: "bots' admitted connections (sign_pub.server.cid): what a draining server holds",
  },
  witness: {
    name: "conclave_witness",
    history: 1,
    ttlMs: HOUR,
    maxValueBytes: 256,
    security: false,
    maxBytes: 8 * MiB,
    whenFull: "refuse_new",
    purpose: "quorum witness writes after guarded reads",
  },
} as const satisfies Record<string, BucketSpec>;

export type BucketKey = keyof typeof BUCKETS;

export const STREAMS = {
  events: {
    name: "CONCLAVE_EVENTS",
    subjects: ["conclave.ev.>"],
    maxMsgBytes: MiB,
    duplicateWindowMs: 2 * 60_000,
    immutable: true,
    maxBytes: GiB,
    whenFull: "refuse_new",
    purpose: "append-only domain event log, one subject per aggregate",
  },
  audit: {
    name: "CONCLAVE_AUDIT",
    subjects: ["conclave.audit.>"],
    maxAgeMs: 90 * 24 * HOUR,
    maxMsgBytes: 64 * 1024,
    duplicateWindowMs: 2 * 60_000,
    immutable: true,
    maxBytes: GiB,
    whenFull: "discard_old",
    purpose: "audit trail of requests and decisions, subject per tenant",
  },
} as const satisfies Record<string, StreamSpec>;

export const OBJECT_STORES = {
  blobs: {
    name: "conclave_blobs",
    maxBytes: 2 * GiB,
    whenFull: "refuse_new",
    purpose: "content-addressed blobs, namespaced per tenant",
  },
} as const satisfies Record<string, Bounded & { name: string; purpose: string }>;

/** Every bounded asset by its configuration name: buckets, streams and object stores. */
export const ASSETS = { ...BUCKETS, ...STREAMS, ...OBJECT_STORES } as const;
export type AssetKey = keyof typeof ASSETS;

/** The JetStream stream behind each asset: KV_<bucket>, OBJ_<store>, or the stream itself. */
export const ASSET_STREAMS: ReadonlyMap<AssetKey, string> = new Map([
  ...Object.entries(BUCKETS).map(([key, b]) => [key as AssetKey, `KV_${b.name}`] as const),
  ...Object.entries(STREAMS).map(([key, st]) => [key as AssetKey, st.name] as const),
  ...Object.entries(OBJECT_STORES).map(([key, o]) => [key as AssetKey, `OBJ_${o.name}`] as const),
]);

/** Byte limits by asset: the catalogue's defaults with configured overrides applied. */
export type ByteLimits = ReadonlyMap<AssetKey, number>;

export function byteLimits(overrides: ReadonlyMap<AssetKey, number> = new Map()): ByteLimits {
  return new Map(
    Object.entries(ASSETS).map(([key, a]) => [key as AssetKey, overrides.get(key as AssetKey) ?? a.maxBytes]),
  );
}

// A subject token: no dots, wildcards or whitespace can be smuggled in by ids.
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function subjectToken(value: string, what: string): string {
  if (!TOKEN.test(value)) throw new Error(`${what} is not a valid subject token: ${JSON.stringify(value)}`);
  return value;
}

export const SUBJECTS = {
  /**
   * The event subject of one aggregate: its stream version is the last sequence on it.
   * An id may be scoped in dot-separated tokens (rooms: `<tenant>.<id>`).
   */
  aggregate: (type: string, id: string) =>
    `conclave.ev.${subjectToken(type, "aggregate type")}.${id
      .split(".")
      .map((t) => subjectToken(t, "aggregate id"))
      .join(".")}`,
  /** Every aggregate of one type, scoped ids included (a projection's filter). */
  aggregateType: (type: string) => `conclave.ev.${subjectToken(type, "aggregate type")}.>`,
  audit: (tenant: string) => `conclave.audit.${subjectToken(tenant, "tenant")}`,
};

/** Name of a bucket, or of its twin used by a projection rebuild. */
export function bucketName(key: BucketKey, variant?: string): string {
  return variant ? `${BUCKETS[key].name}__${subjectToken(variant, "variant")}` : BUCKETS[key].name;
}
