import { existsSync } from "node:fs";
import { join } from "node:path";
import { generateEd25519KeyPair, type KeyFile, toBase64url } from "@conclave/auth";
import { type RpcServer, serveRpc } from "@conclave/rpc";
import { type NatsCredentials, projectRoot, seedAuthenticator } from "@conclave/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { CHAOS_METHODS } from "./gateway-ops.ts";
import { ServiceReplica } from "./replica-process.ts";
import { send, signWire } from "./signed-call.ts";
import type { ServiceName, Target } from "./workload.ts";

const PREFIX: Record<ServiceName, string> = { membership: "r", blob: "b", gateway: "g" };

/** The services whose `main.ts` exists in this checkout (membership always). */
export function availableServices(): ServiceName[] {
  return (["membership", "blob", "gateway"] as const).filter((s) =>
    existsSync(join(projectRoot(), "services", s, "src", "main.ts")),
  );
}

/** What the gateway replicas share: one signing key, the chaos methods, a tier no workload reaches. */
function gatewayEnv(): Record<string, string> {
  return {
    CONCLAVE_GATEWAY_JWT_KEY: toBase64url(generateEd25519KeyPair().secretKey),
    CONCLAVE_GATEWAY_METHODS: JSON.stringify(CHAOS_METHODS),
    CONCLAVE_GATEWAY_LEASE_MS: "4000",
    CONCLAVE_GATEWAY_RPC_TIMEOUT_MS: "2000",
    CONCLAVE_GATEWAY_TIERS: JSON.stringify({ free: 20, hobby: 60, pro: 300, enterprise: 1000, chaos: 1_000_000 }),
    CONCLAVE_GATEWAY_DEFAULT_TIER: "chaos",
  };
}

/**
 * The services under test: `count` replicas of each as OS processes, and, for
 * the gateway, the upstream handlers of the chaos methods (in this process, on
 * their own NATS connection, reporting a random usage up to the estimate).
 */
export class Deployment {
  readonly replicas: ServiceReplica[] = [];
  /** The auth callout's replicas (a1, a2): no signed API, so not among the probed `replicas`. */
  readonly access: ServiceReplica[] = [];
  readonly services: ServiceName[];
  /** Calls the upstream handlers answered. */
  upstreamCalls = 0;
  private upstream?: { conns: NatsConnection[]; servers: RpcServer[] };

  private constructor(services: ServiceName[]) {
    this.services = services;
  }

  static async start(opts: {
    services: ServiceName[];
    count: number;
    env: Record<string, string>;
    natsUrls: string[];
    /** The cluster's secrets: each replica connects as its service's user, the upstream as the rpc user. */
    credentials: NatsCredentials;
    /** Node names in the order of `natsUrls`. */
    nodeNames: string[];
    outDir: string;
    /** Auth callout replicas with live disconnect, and their admission lifetime (s); none when undefined. */
    accessTtlS?: number;
  }): Promise<Deployment> {
    const d = new Deployment(opts.services);
    const gw = opts.services.includes("gateway") ? gatewayEnv() : {};
    let pins = 0;
    // Every second replica knows one NATS URL (a server per host), spread over the nodes;
    // the others know all three and leave an isolated node (libs/store isolated-server.ts).
    const replica = (name: string, service: string, i: number, base: Record<string, string>) => {
      const pin = i % 2 === 0 ? pins++ % opts.natsUrls.length : undefined;
      const env = pin === undefined ? base : { ...base, CONCLAVE_NATS_URLS: opts.natsUrls[pin] as string };
      const pinnedTo = pin === undefined ? undefined : opts.nodeNames[pin];
      return new ServiceReplica(name, service, env, join(opts.outDir, `${name}.log`), pinnedTo);
    };
    for (const service of opts.services) {
      for (let i = 1; i <= opts.count; i++) {
        const seed = { CONCLAVE_NATS_SEED: opts.credentials.seeds[service] };
        const base = service === "gateway" ? { ...opts.env, ...gw, ...seed } : { ...opts.env, ...seed };
        d.replicas.push(replica(`${PREFIX[service]}${i}`, service, i, base));
      }
    }
    if (opts.accessTtlS !== undefined) {
      const access = {
        ...opts.env,
        CONCLAVE_NATS_SEED: opts.credentials.seeds.access,
        CONCLAVE_ACCESS_ISSUER_SEED: opts.credentials.issuer,
        CONCLAVE_NATS_SYSTEM_SEED: opts.credentials.system,
        CONCLAVE_ACCESS_TTL_S: String(opts.accessTtlS),
      };
      for (let i = 1; i <= opts.count; i++) d.access.push(replica(`a${i}`, "access", i, access));
    }
    if (opts.services.includes("gateway")) {
      // Two handler connections in one queue group, as two upstream processes would be.
      // Handlers are users of the RPC account: a plain connection, no JetStream.
      const conns = await Promise.all(
        [1, 2].map((i) =>
          connect({
            servers: opts.natsUrls,
            authenticator: seedAuthenticator(opts.credentials.seeds.rpc),
            name: `chaos/upstream-${i}`,
            maxReconnectAttempts: -1,
          }),
        ),
      );
      const servers = conns.flatMap((nc) =>
        Object.entries(CHAOS_METHODS).map(([method, cost]) =>
          serveRpc<{ n?: number }>(nc, {
            method,
            handler: (call) => {
              d.upstreamCalls++;
              const rand = (max: number) => Math.floor(Math.random() * (max + 1));
              call.reportUsage({ input: Math.max(1, rand(cost.input)), output: rand(cost.output) });
              return { n: call.params.n ?? 0 };
            },
          }),
        ),
      );
      d.upstream = { conns, servers };
    }
    try {
      await Promise.all([...d.replicas, ...d.access].map((r) => r.start()));
    } catch (err) {
      await d.close();
      throw err;
    }
    return d;
  }

  targets(service: ServiceName): Target[] {
    return this.replicas
      .filter((r) => r.service === service && r.running)
      .map((r) => ({ name: r.name, url: r.url as string }));
  }

  /**
   * A guarded request through one replica, to tell whether it serves: a signed
   * read of the admin itself (membership), of an absent blob (blob: 404 means
   * the request passed authentication), of the budget (gateway).
   */
  async probe(r: ServiceReplica, admin: KeyFile, timeoutMs: number): Promise<{ ok: boolean; status: number }> {
    if (!r.url) return { ok: false, status: 0 };
    const path =
      r.service === "blob"
        ? `/v1/blobs/${"0".repeat(64)}`
        : r.service === "gateway"
          ? "/v1/budget"
          : `/v1/users/${admin.signPublicKey}`;
    const { status } = await send(r.url, signWire(admin, r.service === "blob" ? "HEAD" : "GET", path), timeoutMs);
    return { ok: status === 200 || (r.service === "blob" && status === 404), status };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.replicas, ...this.access].map((r) => r.close()));
    if (this.upstream) {
      await Promise.allSettled(this.upstream.servers.map((s) => s.stop()));
      await Promise.allSettled(this.upstream.conns.map((nc) => nc.close()));
    }
  }
}
