import type { UserRecord } from "@conclave/protocol";
import { withDeadline } from "@conclave/store";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import pLimit, { type LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { AccessConfig } from "./access-config.ts";
import type { AccessMetrics, DecisionOutcome } from "./access-metrics.ts";
import { type Admission, type Denial, decideAdmission, provenSignPub } from "./admission.ts";
import { answerWithin } from "./admission-token.ts";
import type { MemberRoom } from "./bot-permissions.ts";
import { type CalloutRequest, parseCalloutRequest } from "./callout-request.ts";
import type { AdmittedConnection } from "./connection-registry.ts";
import type { IssuerKey } from "./issuer-key.ts";
import type { RoomsOfMember } from "./rooms-of-member.ts";

const UNAVAILABLE: Denial = {
  admitted: false,
  reason: "store_unavailable",
  message: "authorization unavailable, retry later",
};
const OVERLOADED: Denial = { admitted: false, reason: "overloaded", message: "authorization busy, retry later" };

/** Where nats-server asks the callout account about every client of the allowed accounts. */
export const AUTH_CALLOUT_SUBJECT = "$SYS.REQ.USER.AUTH";

/** The reads behind an admission: leader reads, confirmed by a later quorum write (docs/store.md). */
export interface AdmissionSources {
  user(signPub: string): Promise<UserRecord | undefined>;
  roomsOf: RoomsOfMember;
  /**
   * Records an admitted connection (ConnectionRegistry), before the answer: a quorum write
   * issued after the reads, so a stale or cut-off leader's answer becomes a denial (the witness).
   */
  register(connection: AdmittedConnection, at: number): Promise<void>;
}

export interface CalloutResponderDeps {
  nc: NatsConnection;
  issuer: IssuerKey;
  config: AccessConfig;
  sources: AdmissionSources;
  metrics: AccessMetrics;
  logger: Logger;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

/**
 * Answers nats-server's auth callout for the bots account: in a queue group,
 * so replicas share the load and any one of them can answer. Every answer is
 * signed by the issuer key; a refusal is an answer too (with an error), so
 * the client fails at once instead of after the server's timeout.
 */
export class CalloutResponder {
  private readonly deps: CalloutResponderDeps;
  private readonly now: () => number;
  private readonly reads: LimitFunction;
  private sub: Subscription | undefined;
  private readonly answering = new Set<Promise<void>>();

  constructor(deps: CalloutResponderDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    // A connect storm must not put every admission on the store at once: they would all share
    // its slowness and all miss the server's timeout (measured: 47 of 1,000 admitted unbounded).
    this.reads = pLimit(deps.config.maxInflight);
  }

  start(): void {
    this.sub = this.deps.nc.subscribe(AUTH_CALLOUT_SUBJECT, {
      queue: this.deps.config.queue,
      callback: (err, msg) => {
        if (err) this.deps.logger.error({ err }, "auth callout subscription failed");
        else {
          const answer = this.answer(msg).finally(() => this.answering.delete(answer));
          this.answering.add(answer);
        }
      },
    });
  }

  /**
   * Stops taking callouts (the other replicas take the new ones) and waits for the answers in
   * flight: closing the connection under them would leave those clients to the server's timeout.
   */
  async stop(): Promise<void> {
    await this.sub?.drain();
    await Promise.allSettled([...this.answering]);
  }

  private async answer(msg: Msg): Promise<void> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    const request = parseCalloutRequest(msg.data);
    if (!request) {
      // Nothing to bind an answer to: the server times the client out, refused.
      this.deps.metrics.decided("malformed", elapsed());
      this.deps.logger.warn({ subject: msg.subject }, "auth callout: unparsable request ignored");
      return;
    }
    let outcome: DecisionOutcome;
    try {
      const { issuer, config, nc } = this.deps;
      const maxPayload = nc.info?.max_payload ?? 0;
      const { decision, answer } = await answerWithin(
        request,
        await this.decide(request),
        issuer,
        config.account,
        maxPayload,
      );
      outcome = decision.admitted ? "admitted" : decision.reason;
      msg.respond(answer);
      this.log(request, decision);
    } catch (err) {
      // An answer we could not build or send: the server refuses the client at its timeout.
      outcome = "internal";
      this.deps.logger.error({ err, server: request.serverName }, "auth callout: no answer sent");
    }
    this.deps.metrics.decided(outcome, elapsed());
  }

  private async decide(request: CalloutRequest): Promise<Admission | Denial> {
    const proof = provenSignPub(request);
    if ("admitted" in proof) return proof;
    const { signPub } = proof;
    const { sources, config } = this.deps;
    // Measured under a storm on a loaded machine: queued admissions were answered "busy" only
    // after ~2 s, past the server's timeout. A full queue answers at once and the bot retries.
    if (this.reads.pendingCount >= config.maxQueued) return OVERLOADED;
    const deadline = Date.now() + config.decisionMs;
    let started = false;
    let decision: Admission | Denial | undefined;
    try {
      decision = await withDeadline("admission", config.decisionMs, () =>
        this.reads(async () => {
          // Its turn came too late: nobody waits for this answer, and its reads would delay the others.
          if (Date.now() >= deadline) return undefined;
          started = true;
          const user = await sources.user(signPub);
          const rooms: MemberRoom[] = user?.status === "active" ? await sources.roomsOf(signPub, config.maxRooms) : [];
          const decided = decideAdmission({ signPub, user, rooms }, config, Math.floor(this.now() / 1000));
          // A refusal needs no witness: one taken on stale facts refuses, which is safe.
          if (decided.admitted) {
            await sources.register({ signPub, serverId: request.serverId, cid: request.cid }, this.now());
          }
          return decided;
        }),
      );
    } catch (err) {
      this.deps.logger.warn(
        { err: (err as Error).message, subject: signPub, started },
        "auth callout: no facts in time",
      );
    }
    // Fail closed: a store that cannot answer (in time) admits nobody; nor does a queue too long to wait in.
    return decision ?? (started ? UNAVAILABLE : OVERLOADED);
  }

  private log(request: CalloutRequest, decision: Admission | Denial): void {
    const where = { server: request.serverName, host: request.clientHost, client: request.clientName };
    if (decision.admitted) {
      this.deps.logger.debug({ ...where, subject: decision.signPub, tenant: decision.tenant }, "bot admitted");
    } else {
      this.deps.logger.info({ ...where, nkey: request.clientNkey, reason: decision.reason }, "bot refused");
    }
  }
}
