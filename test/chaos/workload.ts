import { setTimeout as sleep } from "node:timers/promises";
import { generateIdentity, type KeyFile } from "@conclave/auth";
import type { FaultSnapshot, HistoryRecorder, RequestRecord } from "./history.ts";
import type { Prng } from "./prng.ts";
import { type Answer, send, signWire, type Wire } from "./signed-call.ts";

export type ServiceName = "membership" | "blob" | "gateway";

/** A signing identity the workload drives, and what the workload believes about it. */
export interface Bot {
  name: string;
  key: KeyFile;
  kind: "admin" | "owner" | "member";
  /**
   * active: its add was acknowledged; unknown: its add got no clear answer (never used);
   * revoking: a revoke got no clear answer; revoked: a revoke was acknowledged (watchViolations only).
   */
  status: "active" | "unknown" | "revoking" | "revoked";
}

export interface Target {
  name: string;
  url: string;
}

export interface WorkloadDeps {
  history: HistoryRecorder;
  rng: Prng;
  admin: Bot;
  owners: Bot[];
  members: Bot[];
  tenant: string;
  /** Running replicas of a service now (a killed one is left out, as a load balancer's health check would). */
  targets(service: ServiceName): Target[];
  faults(): FaultSnapshot;
  /** Client-side bound of one request; past it the outcome is unknown (status 0). */
  requestTimeoutMs: number;
  thinkMs: number;
}

/** One service's share of the workload: its operations and their weights (0 = not now). */
export interface OpGroup {
  weights(): Record<string, number>;
  run(op: string): Promise<void>;
}

export const isOk = (status: number) => status >= 200 && status < 300;

/** The interesting part of an answer, kept in the history. */
function trimAck(answer: Answer): unknown {
  if (answer.bytes) return answer.bytes;
  const body = answer.body;
  if (!body || typeof body !== "object") return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.epoch === "number" && "members" in b) {
    return { epoch: b.epoch, keyed_epoch: b.keyed_epoch, rekey_pending: b.rekey_pending, members: b.members };
  }
  if (typeof b.sign_pub === "string") return { sign_pub: b.sign_pub, status: b.status };
  if (typeof b.sha256 === "string") return { sha256: b.sha256, size: b.size };
  if (typeof b.jti === "string") return { jti: b.jti, revoked: b.revoked, expires_at: b.expires_at };
  if (b.limits && b.used) return { limits: b.limits, used: b.used, reserved: b.reserved };
  if (b.protocol) return { usage: b.usage };
  if (Array.isArray(b.rooms)) return { rooms: b.rooms.length };
  if (Array.isArray(b.users)) return { users: b.users.length };
  if (Array.isArray(b.members)) return { members: b.members.length };
  if (typeof b.epoch === "number") return { epoch: b.epoch };
  return undefined;
}

/**
 * What every operation needs: the bots, a replica picker per service
 * (round-robin over the running ones), and `exec`, which sends one request
 * and records it with the fault state at the time it was sent.
 */
export class WorkloadContext {
  readonly d: WorkloadDeps;
  readonly rng: Prng;
  readonly bots: Bot[];
  private readonly rr = new Map<ServiceName, number>();
  private userSeq = 0;
  stopAt = 0;
  /** Requests scheduled for later (delayed replays); awaited before the run ends. */
  readonly delayed = new Set<Promise<void>>();

  constructor(deps: WorkloadDeps) {
    this.d = deps;
    this.rng = deps.rng;
    this.bots = [...deps.owners, ...deps.members];
  }

  target(service: ServiceName): Target | undefined {
    const all = this.d.targets(service);
    const n = this.rr.get(service) ?? 0;
    this.rr.set(service, n + 1);
    return all.length === 0 ? undefined : all[n % all.length];
  }

  /** Another replica than `name` when there is one (replays cross replicas). */
  otherTarget(service: ServiceName, name: string): Target | undefined {
    const all = this.d.targets(service);
    return all.find((t) => t.name !== name && this.rng.chance(0.7)) ?? all.find((t) => t.name !== name) ?? all[0];
  }

  active(kind?: Bot["kind"]): Bot[] {
    return this.bots.filter((b) => b.status === "active" && (kind === undefined || b.kind === kind));
  }

  newBot(): Bot {
    const name = `bot${++this.userSeq}`;
    const key = generateIdentity({ name, tenant: this.d.tenant, url: "http://127.0.0.1" });
    const bot: Bot = { name, kind: "member", status: "unknown", key };
    this.bots.push(bot);
    return bot;
  }

  async exec(
    op: string,
    actor: Bot,
    wire: Wire,
    summary: Record<string, unknown>,
    target: Target,
    extra: { id?: number; replayOf?: number } = {},
  ): Promise<{ record: RequestRecord; answer: Answer }> {
    const fault = this.d.faults();
    const t0 = Date.now();
    const answer = await send(target.url, wire, this.d.requestTimeoutMs);
    const t1 = Date.now();
    // Like a well-behaved client, back off a little when the service says it cannot answer.
    if (answer.status === 0 || answer.status === 503) await sleep(this.rng.int(100, 400));
    const ack = isOk(answer.status) ? trimAck(answer) : undefined;
    const record: RequestRecord = {
      type: "req",
      id: extra.id ?? this.d.history.newId(),
      t0,
      t1,
      op,
      replica: target.name,
      actor: actor.name,
      signer: actor.key.signPublicKey,
      method: wire.method,
      path: wire.path,
      summary,
      status: answer.status,
      ...(ack === undefined ? {} : { ack }),
      ...(answer.error ? { error: answer.error } : {}),
      nonce: wire.nonce,
      ...(extra.replayOf === undefined ? {} : { replayOf: extra.replayOf }),
      fault,
    };
    this.d.history.add(record);
    return { record, answer };
  }

  /** Signs and sends one JSON request to the next replica of `service`. */
  async call(
    service: ServiceName,
    op: string,
    actor: Bot,
    method: string,
    path: string,
    json: unknown,
    summary: Record<string, unknown>,
  ) {
    const target = this.target(service);
    if (!target) return undefined;
    return this.exec(op, actor, signWire(actor.key, method, path, json), summary, target);
  }

  /** Runs `send` after `delayMs` (never past the end of the run), tracked so the run waits for it. */
  later(delayMs: number, send: () => Promise<unknown>): void {
    const delay = Math.min(delayMs, this.stopAt - Date.now());
    if (delay <= 0) return;
    const p: Promise<void> = sleep(delay)
      .then(send)
      .then(() => {
        this.delayed.delete(p);
      });
    this.delayed.add(p);
  }
}

/** Runs the op groups' operations from several concurrent loops until the deadline. */
export class Workload {
  readonly ctx: WorkloadContext;
  private readonly groups: OpGroup[];

  constructor(ctx: WorkloadContext, groups: OpGroup[]) {
    this.ctx = ctx;
    this.groups = groups;
  }

  async run(until: number, workers: number): Promise<void> {
    this.ctx.stopAt = until;
    await Promise.all(Array.from({ length: workers }, () => this.worker()));
    await Promise.all([...this.ctx.delayed]);
  }

  private async worker(): Promise<void> {
    while (Date.now() < this.ctx.stopAt) {
      const table: Record<string, number> = {};
      const owner = new Map<string, OpGroup>();
      for (const g of this.groups) {
        for (const [op, w] of Object.entries(g.weights())) {
          table[op] = w;
          owner.set(op, g);
        }
      }
      const op = this.ctx.rng.weighted(table);
      await owner.get(op)?.run(op);
      await sleep(this.ctx.d.thinkMs);
    }
  }
}
