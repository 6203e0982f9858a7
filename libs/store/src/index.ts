export {
  ASSET_STREAMS,
  ASSETS,
  type AssetKey,
  BUCKETS,
  type BucketKey,
  type BucketSpec,
  type ByteLimits,
  bucketName,
  byteLimits,
  MAX_CLOCK_SKEW_MS,
  MAX_TOKEN_LIFETIME_MS,
  NONCE_CLAIM_BYTES,
  NONCE_CLAIMS_PER_S,
  NONCE_CLOCK_MARGIN_MS,
  nonceTtlMs,
  OBJECT_STORES,
  STREAMS,
  type StreamSpec,
  SUBJECTS,
  subjectToken,
  TOMBSTONE_TTL_MS,
  type WhenFull,
} from "./catalogue.ts";
export {
  COMMAND_ATTEMPTS,
  type CommandOutcome,
  type CommandPath,
  handleCommand,
  type Loaded,
} from "./command-handler.ts";
export { type ConnectionOptions, connectStore, type StoreConnection } from "./connection.ts";
export { ConnectionGate } from "./connection-gate.ts";
export { followLeader, leaderElectedSubject } from "./consumer-leader.ts";
export {
  backoffMs,
  type DeadlineOptions,
  retryIdempotent,
  retryWhileUnavailable,
  withDeadline,
} from "./deadline.ts";
export { type Decided, type Decider, type DomainEvent, domainEvent, foldEvents } from "./decider.ts";
export { deciderSpec, storedAt } from "./decider-spec.ts";
export { boundedByDecision, outsideDecision, withinDecisionDeadline } from "./decision-deadline.ts";
export {
  ConflictError,
  NotFoundError,
  StoreError,
  type StoreErrorKind,
  toStoreError,
  UnavailableError,
} from "./errors.ts";
export {
  type AggregateRef,
  type EventDraft,
  type EventEnvelope,
  EventLog,
  type EventSchemas,
  eventEnvelopeSchema,
  type StoredEvent,
} from "./event-log.ts";
export { type BucketShape, type Entry, type KeyPage, KvTable, type LastWrite, type WriteOptions } from "./kv-table.ts";
export { observed, type StoreObserver, type StoreOutcome } from "./observer.ts";
export { type FirstPullWatch, orderedConsumer, watchFirstPull } from "./ordered-consumer.ts";
export {
  EVENT_SEQ_HEADER,
  NEW_KEY,
  type Projected,
  type Projection,
  ProjectionWriter,
  projected,
  type TableOpener,
} from "./projection.ts";
export { ProjectionRunner, projectionTables } from "./projection-runner.ts";
export { provisionBucket, provisionStore } from "./provision.ts";
export { QuorumWitness } from "./quorum-witness.ts";
export { compareProjection, rebuildProjection, type TableDifference } from "./rebuild.ts";
export { retryingJetStream } from "./retrying-jetstream.ts";
export { DEFAULT_OP_TIMEOUT_MS, Store, type StoreOptions } from "./store.ts";
export { getBySubject, subjectMatches } from "./subject-get.ts";
