import { createWriteStream, readFileSync, type WriteStream } from "node:fs";

/** What was broken when a request started (copied into every request record). */
export interface FaultSnapshot {
  /** The episode in progress (inject → restore → recovered), if any. */
  episode?: number;
  kind?: FaultKind;
  phase?: "active" | "recovering";
  nodesDown: string[];
  nodesPaused: string[];
  /** In lame-duck mode (a planned restart): still up, moving its clients away. */
  nodesLameDuck: string[];
  linksCut: string[];
  replicasDown: string[];
  quorumLost: boolean;
}

/** No fault in progress. */
export function noFaults(): FaultSnapshot {
  return { nodesDown: [], nodesPaused: [], nodesLameDuck: [], linksCut: [], replicasDown: [], quorumLost: false };
}

export const FAULT_KINDS = [
  "kill",
  "pause",
  "restart",
  "replica",
  "quorum",
  "partition",
  "planned",
  "bridge",
  "oneway",
  "hung-quorum",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One signed request and its outcome. `status` 0 = no HTTP answer (timeout, reset): outcome unknown. */
export interface RequestRecord {
  type: "req";
  id: number;
  /** Sent / answered, ms since the epoch (same clock as fault records). */
  t0: number;
  t1: number;
  op: string;
  replica: string;
  /** The signer's name (bots) and key. */
  actor: string;
  signer: string;
  method: string;
  path: string;
  /** What the request asked for, enough to find its effect in the log. */
  summary: Record<string, unknown>;
  status: number;
  /** The 2xx answer (trimmed), or the error code/reason. */
  ack?: unknown;
  error?: string;
  nonce: string;
  /** Set on a deliberate replay: the request id whose captured wire bytes were re-sent. */
  replayOf?: number;
  fault: FaultSnapshot;
}

/** A fault transition, with the exact time it took effect. */
export interface FaultRecord {
  type: "fault";
  t: number;
  episode: number;
  kind: FaultKind;
  action: "inject" | "restore" | "recovered" | "recovery_timeout";
  target: string[];
  detail?: Record<string, unknown>;
}

/**
 * Where each running replica's connection was, by one `/connz` sweep that
 * started at `ts` and ended at `te` (partition and oneway holds record them).
 */
export interface AttachmentSample {
  ts: number;
  te: number;
  attached: Record<string, string>;
}

/** A recovery probe after a fault: a raw store write or a signed read through one replica. */
export interface ProbeRecord {
  type: "probe";
  t0: number;
  t1: number;
  episode: number;
  via: string;
  ok: boolean;
  status?: number;
}

export interface MetaRecord {
  type: "meta";
  t: number;
  [key: string]: unknown;
}

/** A message a data-plane bot received on a room subject, published at `publishedAt` (carried in the payload). */
export interface DeliveryRecord {
  type: "delivery";
  /** The receiving bot's sign_pub. */
  bot: string;
  room: string;
  publishedAt: number;
  receivedAt: number;
}

/** A data-plane connect and whether the server admitted it. */
export interface AdmissionRecord {
  type: "admission";
  bot: string;
  t0: number;
  t1: number;
  admitted: boolean;
  error?: string;
}

export type HistoryRecord = RequestRecord | FaultRecord | ProbeRecord | MetaRecord | DeliveryRecord | AdmissionRecord;

/** Appends every record to a JSON-lines file as it happens, and keeps them for the checkers. */
export class HistoryRecorder {
  readonly path: string;
  readonly records: HistoryRecord[] = [];
  private readonly out: WriteStream;
  private nextId = 1;

  constructor(path: string) {
    this.path = path;
    this.out = createWriteStream(path, { flags: "w" });
  }

  newId(): number {
    return this.nextId++;
  }

  add(record: HistoryRecord): void {
    this.records.push(record);
    this.out.write(`${JSON.stringify(record)}\n`);
  }

  requests(): RequestRecord[] {
    return this.records.filter((r): r is RequestRecord => r.type === "req");
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

/** Reads a history file back (offline checking). */
export function readHistory(path: string): HistoryRecord[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as HistoryRecord);
}
