import { setTimeout as sleep } from "node:timers/promises";
import type { KeyFile } from "@conclave/auth";
import { revocationsProjection } from "@conclave/gateway";
import { roomsProjection, usersProjection } from "@conclave/membership";
import {
  compareProjection,
  type EventLog,
  type Projection,
  rebuildProjection,
  STREAMS,
  type Store,
  SUBJECTS,
} from "@conclave/store";
import type { FinalState } from "./checkers.ts";
import { send, signWire } from "./signed-call.ts";
import type { ServiceName, Target } from "./workload.ts";

/** The projections rebuilt and compared at the end: membership's, and the gateway's when it runs. */
const projectionsOf = (gateway: boolean): Projection[] => [
  usersProjection,
  roomsProjection,
  ...(gateway ? [revocationsProjection] : []),
];

/** Retries a read of the recovered cluster (elections may still settle) until it succeeds or time runs out. */
async function settle<T>(what: string, op: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await sleep(500);
    }
  }
}

/**
 * Events not yet processed by the durable consumers of the event log: the
 * projections and the process managers that append events of their own (the
 * revocation sweep removes a revoked user from its rooms). Listed from the
 * stream, not from a fixed list, so a new runner is waited for too.
 */
async function logBacklog(store: Store): Promise<{ lastSeq: number; pending: Record<string, number> }> {
  const pending: Record<string, number> = {};
  for await (const c of store.conn.jsm.consumers.list(STREAMS.events.name)) {
    if (c.config.durable_name) pending[c.config.durable_name] = c.num_pending + c.num_ack_pending;
  }
  const info = await store.conn.jsm.streams.info(STREAMS.events.name);
  return { lastSeq: info.state.last_seq, pending };
}

/**
 * Waits until the system stops moving: every durable consumer of the log has
 * processed every event, and the log did not grow while they drained (a
 * sweep's removals are new events for the projections). Judging earlier
 * compares a rebuild with a read model that is still being written.
 */
async function quiesce(store: Store): Promise<Record<string, number>> {
  let before = -1;
  return await settle("drain the log's consumers", async () => {
    const { lastSeq, pending } = await logBacklog(store);
    const busy = Object.entries(pending).filter(([, n]) => n > 0);
    const grew = lastSeq !== before;
    before = lastSeq;
    if (busy.length > 0 || grew) {
      throw new Error(busy.length > 0 ? `pending: ${JSON.stringify(Object.fromEntries(busy))}` : "the log grew");
    }
    return pending;
  }).catch(async () => (await logBacklog(store)).pending);
}

/**
 * Reads back what the checkers judge, once every fault is repaired and the
 * workload has stopped: every runner of the log drained, the projections
 * and the revocation sweep (the replicas still run them), the users as the API lists them, every user and room event in the
 * log, and each projection rebuilt from the log and compared with the live one.
 */
export async function collectFinalState(deps: {
  store: Store;
  log: EventLog;
  admin: KeyFile;
  targets(service: ServiceName): Target[];
  requestTimeoutMs: number;
  /** Acknowledged blobs to download again (blob runs). */
  blobs?: string[];
  /** Read the budget and the session events too (gateway runs). */
  gateway: boolean;
  progress(line: string): void;
}): Promise<FinalState> {
  const { store, log } = deps;
  const adminGet = async (service: ServiceName, path: string) => {
    const target = deps.targets(service)[0];
    if (!target) throw new Error(`no ${service} replica running`);
    return send(target.url, signWire(deps.admin, "GET", path), deps.requestTimeoutMs);
  };
  const final: FinalState = { events: [], projectionDiffs: {}, projectionLag: {} };
  try {
    const pending = await quiesce(store);
    // Every runner of the log, the sweep included: one still behind at the end is reported, not waited out.
    for (const [durable, n] of Object.entries(pending)) final.projectionLag[durable.replace(/^proj_/, "")] = n;
    deps.progress(`final state: the log's consumers drained ${JSON.stringify(pending)}`);
    final.users = await settle("list users through the API", async () => {
      // Every page: the listing pages (limit, cursor, next), and a run registers more users than one holds.
      const users: { sign_pub: string; status: string }[] = [];
      let cursor: string | undefined;
      do {
        const path = `/v1/users?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const answer = await adminGet("membership", path);
        if (answer.status !== 200) throw new Error(`GET /v1/users answered ${answer.status} ${answer.error ?? ""}`);
        const page = answer.body as { users: { sign_pub: string; status: string }[]; next?: string };
        users.push(...page.users);
        cursor = page.next;
      } while (cursor);
      return Object.fromEntries(users.map((u) => [u.sign_pub, { status: u.status }]));
    });
    final.events = await settle("read the log", async () => {
      const events: FinalState["events"] = [];
      const types = ["user", "room", ...(deps.gateway ? ["session"] : [])];
      for await (const e of log.replay(types.map((t) => SUBJECTS.aggregateType(t)))) {
        events.push({
          seq: e.seq,
          type: e.type,
          // Rooms are `<tenant>.<id>` on the log; the checkers name them by id (one tenant here).
          aggregate:
            e.aggregate.type === "room" ? e.aggregate.id.slice(e.aggregate.id.indexOf(".") + 1) : e.aggregate.id,
          actor: e.actor,
          data: e.data as Record<string, unknown>,
        });
      }
      return events;
    });
    deps.progress(`final state: ${final.events.length} events read`);
    if (deps.blobs) {
      const blobs: NonNullable<FinalState["blobs"]> = {};
      const queue = [...deps.blobs];
      const download = async () => {
        for (let sha256 = queue.pop(); sha256 !== undefined; sha256 = queue.pop()) {
          const address = sha256;
          blobs[address] = await settle(`download blob ${address.slice(0, 8)}`, async () => {
            const answer = await adminGet("blob", `/v1/blobs/${address}`);
            if (answer.status === 0 || answer.status >= 500) throw new Error(`answered ${answer.status}`);
            return { status: answer.status, ...(answer.bytes ?? {}) };
          });
        }
      };
      await Promise.all(Array.from({ length: 6 }, download));
      final.blobs = blobs;
    }
    if (deps.gateway) {
      final.budget = await settle("read the budget", async () => {
        const answer = await adminGet("gateway", "/v1/budget");
        if (answer.status !== 200) throw new Error(`GET /v1/budget answered ${answer.status} ${answer.error ?? ""}`);
        return answer.body as NonNullable<FinalState["budget"]>;
      });
    }
    deps.progress("final state: blobs and budget read; rebuilding projections");
    for (const p of projectionsOf(deps.gateway)) {
      final.projectionDiffs[p.name] = await settle(`rebuild ${p.name}`, async () => {
        await rebuildProjection(store, log, p);
        return await compareProjection(store, p);
      });
    }
  } catch (err) {
    final.error = `final state incomplete: ${(err as Error).message}`;
  }
  return final;
}
