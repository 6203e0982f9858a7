import { randomBytes } from "node:crypto";
import { BUCKETS, OBJECT_STORES, STREAMS, SUBJECTS, withDeadline } from "@conclave/store";
import type { NatsNode } from "@conclave/testkit";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Authenticator } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { ServiceName } from "./workload.ts";

interface RawClient {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * The NATS operations a service's recovery probe costs, done raw (no Conclave
 * code, no retries): a leader read of the admin's allowlist entry and a KV
 * create in the nonces bucket (every signed request), plus a leader read on
 * each further stream the service touches. Run through a connection that may
 * go anywhere (the cluster's recovery) and through one pinned to each node
 * (the recovery as seen by a client of that node), so a replica's recovery can
 * be compared with raw NATS through the server it is attached to: the
 * difference is what Conclave adds.
 */
export class RawProbes {
  private readonly any: RawClient;
  private readonly pinned: Map<string, RawClient>;
  private readonly adminKey: string;
  private readonly opTimeoutMs: number;

  private constructor(any: RawClient, pinned: Map<string, RawClient>, adminKey: string, opTimeoutMs: number) {
    this.any = any;
    this.pinned = pinned;
    this.adminKey = adminKey;
    this.opTimeoutMs = opTimeoutMs;
  }

  static async connect(
    nodes: NatsNode[],
    authenticator: Authenticator,
    adminKey: string,
    opTimeoutMs: number,
  ): Promise<RawProbes> {
    const client = async (servers: string[], name: string, pinned: boolean): Promise<RawClient> => {
      const nc = await connect({
        servers,
        name,
        authenticator,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 2_000,
        maxPingOut: 2,
        // A pinned client stays with its node, dead or alive: it measures that node.
        ...(pinned ? { noRandomize: true, ignoreClusterUpdates: true } : {}),
      });
      return {
        nc,
        js: jetstream(nc, { timeout: opTimeoutMs }),
        jsm: await jetstreamManager(nc, { timeout: opTimeoutMs }),
      };
    };
    const any = await client(
      nodes.map((n) => n.url),
      "chaos/raw",
      false,
    );
    const pinned = new Map<string, RawClient>();
    for (const n of nodes) pinned.set(n.name, await client([n.url], `chaos/raw-${n.name}`, true));
    return new RawProbes(any, pinned, adminKey, opTimeoutMs);
  }

  /** Through the connection that may go anywhere. */
  service(service: ServiceName): Promise<boolean> {
    return this.run(this.any, service);
  }

  /** Through the connection pinned to `node`. */
  via(node: string, service: ServiceName): Promise<boolean> {
    const c = this.pinned.get(node);
    return c ? this.run(c, service) : Promise.resolve(false);
  }

  private async run(c: RawClient, service: ServiceName): Promise<boolean> {
    const t = this.opTimeoutMs;
    const read = (stream: string, subject: string) =>
      withDeadline(`probe ${stream}`, t, () => c.jsm.streams.getMessage(stream, { last_by_subj: subject }));
    try {
      await read(`KV_${BUCKETS.users.name}`, `$KV.${BUCKETS.users.name}.${this.adminKey}`);
      await withDeadline("probe nonce", t, () =>
        c.js.publish(
          `$KV.${BUCKETS.nonces.name}.${randomBytes(16).toString("hex")}`,
          JSON.stringify({ at: Date.now() }),
          {
            expect: { lastSubjectSequence: 0 },
          },
        ),
      );
      for (const [stream, subject] of EXTRA_STREAMS[service]) await read(stream, subject);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.any, ...this.pinned.values()].map((c) => c.nc.close()));
  }
}

const EXTRA_STREAMS: Record<ServiceName, [string, string][]> = {
  membership: [],
  blob: [[`OBJ_${OBJECT_STORES.blobs.name}`, `$O.${OBJECT_STORES.blobs.name}.M.probe`]],
  gateway: [
    [`KV_${BUCKETS.budgets.name}`, `$KV.${BUCKETS.budgets.name}.probe`],
    [`KV_${BUCKETS.ratelimits.name}`, `$KV.${BUCKETS.ratelimits.name}.probe`],
    [STREAMS.audit.name, SUBJECTS.audit("acme")],
  ],
};
