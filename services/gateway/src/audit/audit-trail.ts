import { randomUUID } from "node:crypto";
import { type AuditEvent, type AuditPage, auditEvent } from "@conclave/protocol";
import { getBySubject, STREAMS, type Store, SUBJECTS, withDeadline } from "@conclave/store";
import { TALLY_WINDOW_MS, UnattributedTally } from "./unattributed-tally.ts";

/**
 * Audit records of requests the gateway could not attribute to a tenant
 * (the signature or token failed before one was proven). Not a valid tenant
 * id (those start with a letter or digit), so no tenant can read or collide with it.
 */
export const UNATTRIBUTED = "_unattributed";

export type AuditDraft = Omit<AuditEvent, "v" | "id" | "at">;

export const MAX_AUDIT_PAGE = 200;

/**
 * The audit stream, one subject per tenant: append-only, 90 days, bounded in
 * bytes with the oldest records discarded when full (libs/store catalogue).
 * Unattributed answers are tallied per window, not recorded one by one.
 */
export class AuditTrail {
  private readonly store: Store;
  private readonly now: () => number;
  private readonly tally = new UnattributedTally();
  private readonly instance: string;
  private timer: NodeJS.Timeout | undefined;

  constructor(store: Store, now: () => number, instance = "gateway") {
    this.store = store;
    this.now = now;
    this.instance = instance.slice(0, 128);
  }

  /** Starts appending the tally every window (the gateway module stops it at close, flushing). */
  start(windowMs = TALLY_WINDOW_MS): void {
    this.timer ??= setInterval(() => void this.flushTally().catch(() => {}), windowMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushTally().catch(() => {});
  }

  /** An answer: recorded one by one when attributed to a tenant, else tallied. */
  async answer(draft: AuditDraft): Promise<void> {
    if (draft.tenant === null) this.tally.add(draft);
    else await this.record(draft);
  }

  /** Appends one record per kind counted since the last flush. */
  async flushTally(): Promise<number> {
    const kinds = this.tally.take();
    for (const { kind, count } of kinds) {
      await this.record({
        ...kind,
        tenant: null,
        subject: null,
        jti: null,
        route: "*",
        method: null,
        request_id: "tally",
        instance: this.instance,
        usage: null,
        count,
      });
    }
    return kinds.length;
  }

  /** Appends one record; the msg id makes a retried append land once. */
  async record(draft: AuditDraft): Promise<AuditEvent> {
    const event = auditEvent.parse({ v: 1, id: randomUUID(), at: new Date(this.now()).toISOString(), ...draft });
    const subject = SUBJECTS.audit(event.tenant ?? UNATTRIBUTED);
    await withDeadline(
      "audit append",
      this.store.opTimeoutMs,
      () => this.store.conn.js.publish(subject, JSON.stringify(event), { msgID: event.id }),
      { retry: true, gate: this.store.conn.gate },
    );
    return event;
  }

  /** A page of one tenant's records after stream sequence `after`, oldest first (leader reads). */
  async page(tenant: string, after: number, limit: number): Promise<AuditPage> {
    const subject = SUBJECTS.audit(tenant);
    const events: AuditPage["events"] = [];
    let cursor = after;
    while (events.length < limit) {
      // The first message on the subject at or after seq.
      const msg = await withDeadline(
        "audit read",
        this.store.opTimeoutMs,
        () => getBySubject(this.store.conn.jsm, STREAMS.audit.name, subject, cursor + 1),
        { retry: true, gate: this.store.conn.gate },
      );
      if (!msg) break;
      cursor = msg.seq;
      const parsed = auditEvent.safeParse(msg.json());
      // A record we cannot read is skipped, not served half-parsed.
      if (parsed.success) events.push({ ...parsed.data, seq: msg.seq });
    }
    return { tenant, events, next: events.length === limit ? cursor : null };
  }
}
