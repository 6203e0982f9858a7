// Every bucket, stream, object store and subject of Conclave, declared once.
// Nothing else in the codebase spells a bucket or stream name.

const MiB = 1024 * 1024;
const HOUR = 3_600_000;

export interface BucketSpec {
  /** KV bucket name (the stream is KV_<name>). */
  name: string;
  /** Revisions kept per key. */
  history: number;
  /** Bucket-wide max age (works on every server >= 2.10; per-key TTL does not). */
  ttlMs?: number;
  maxValueBytes: number;
  /** Read for allow/deny decisions: leader reads only, never direct gets (docs/store.md). */
  security: boolean;
  purpose: string;
}

export interface StreamSpec {
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

/** Replay window of signed requests: ±30 s of clock skew → nonces live 60 s. */
export const MAX_CLOCK_SKEW_MS = 30_000;
/** Longest session token lifetime (docs/gateway.md): revocations must outlive it. */
export const MAX_TOKEN_LIFETIME_MS = 24 * HOUR;

export const BUCKETS = {
  users: {
    name: "conclave_users",
    history: 5,
    maxValueBytes: 64 * 1024,
    security: true,
    purpose: "users allowlist (projection)",
  },
  rooms: {
    name: "conclave_rooms",
    history: 5,
    maxValueBytes: 256 * 1024,
    security: true,
    purpose: "room state (projection)",
  },
  members: {
    name: "conclave_members",
    history: 5,
    maxValueBytes: 64 * 1024,
    security: true,
    purpose: "room membership, key room.member (projection)",
  },
  memberRooms: {
    name: "conclave_member_rooms",
    history: 1,
    maxValueBytes: 16 * 1024,
    security: true,
    purpose: "reverse index member.room (projection)",
  },
  roomKeys: {
    name: "conclave_room_keys",
    history: 1,
    maxValueBytes: 16 * 1024,
    security: true,
    purpose: "sealed room keys, key room.epoch.member (projection)",
  },
  nonces: {
    name: "conclave_nonces",
    history: 1,
    ttlMs: 2 * MAX_CLOCK_SKEW_MS,
    maxValueBytes: 1024,
    security: true,
    purpose: "anti-replay claims, created atomically",
  },
  revoked: {
    name: "conclave_revoked",
    history: 1,
    ttlMs: MAX_TOKEN_LIFETIME_MS + HOUR,
    maxValueBytes: 4 * 1024,
    security: true,
    purpose: "revoked session token ids",
  },
  budgets: {
    name: "conclave_budgets",
    history: 1,
    maxValueBytes: 256 * 1024,
    security: true,
    purpose: "budget counters and reservations, CAS",
  },
  ratelimits: {
    name: "conclave_ratelimits",
    history: 1,
    ttlMs: 2 * 60_000,
    maxValueBytes: 4 * 1024,
    security: true,
    purpose: "rate-limit windows, CAS",
  },
  witness: {
    name: "conclave_witness",
    history: 1,
    ttlMs: HOUR,
    maxValueBytes: 256,
    security: false,
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
    purpose: "append-only domain event log, one subject per aggregate",
  },
  audit: {
    name: "CONCLAVE_AUDIT",
    subjects: ["conclave.audit.>"],
    maxAgeMs: 90 * 24 * HOUR,
    maxMsgBytes: 64 * 1024,
    duplicateWindowMs: 2 * 60_000,
    immutable: true,
    purpose: "audit trail of requests and decisions, subject per tenant",
  },
} as const satisfies Record<string, StreamSpec>;

export const OBJECT_STORES = {
  blobs: { name: "conclave_blobs", purpose: "content-addressed blobs, namespaced per tenant" },
} as const;

// A subject token: no dots, wildcards or whitespace can be smuggled in by ids.
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function subjectToken(value: string, what: string): string {
  if (!TOKEN.test(value)) throw new Error(`${what} is not a valid subject token: ${JSON.stringify(value)}`);
  return value;
}

export const SUBJECTS = {
  /** The event subject of one aggregate: its stream version is the last sequence on it. */
  aggregate: (type: string, id: string) =>
    `conclave.ev.${subjectToken(type, "aggregate type")}.${subjectToken(id, "aggregate id")}`,
  /** Every aggregate of one type (a projection's filter). */
  aggregateType: (type: string) => `conclave.ev.${subjectToken(type, "aggregate type")}.*`,
  audit: (tenant: string) => `conclave.audit.${subjectToken(tenant, "tenant")}`,
};

/** Name of a bucket, or of its twin used by a projection rebuild. */
export function bucketName(key: BucketKey, variant?: string): string {
  return variant ? `${BUCKETS[key].name}__${subjectToken(variant, "variant")}` : BUCKETS[key].name;
}
