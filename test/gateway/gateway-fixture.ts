import { generateEd25519KeyPair, generateIdentity, type KeyFile, toBase64url } from "@conclave/auth";
import { createGatewayModule, type GatewayHandles, loadGatewayConfig } from "@conclave/gateway";
import { membershipModule, userCommands } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import type { NatsCluster, ServiceRole } from "@conclave/testkit";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";
import { type SignedResponse, signedFetch } from "../support/signed-client.ts";

// Gateway integration tests: replica A in this process (membership + gateway,
// so users can be added), replica B as its own OS process (gateway only).

const METHODS = {
  "echo.say": { kind: "read", input: 5, output: 5, timeout_ms: 2_000, description: "echoes its params" },
  "notes.write": { kind: "mutation", input: 10, output: 1, timeout_ms: 2_000 },
  "llm.complete": { kind: "mutation", input: 60, output: 0, timeout_ms: 2_000 },
  "slow.wait": { kind: "read", input: 1, output: 0, timeout_ms: 500 },
  "ghost.call": { kind: "read", input: 1, output: 0, timeout_ms: 1_000 },
};

/** Environment shared by both replicas: the same key, catalogue and limits. */
export function gatewayEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    CONCLAVE_GATEWAY_JWT_KEY: toBase64url(generateEd25519KeyPair().secretKey),
    CONCLAVE_GATEWAY_METHODS: JSON.stringify(METHODS),
    CONCLAVE_GATEWAY_LEASE_MS: "4000",
    CONCLAVE_GATEWAY_RPC_TIMEOUT_MS: "2000",
    CONCLAVE_GATEWAY_TIERS: JSON.stringify({ free: 20, hobby: 60, pro: 300, enterprise: 1000, test: 100_000 }),
    CONCLAVE_GATEWAY_DEFAULT_TIER: "test",
    ...overrides,
  };
}

/** `role`: the NATS user the process connects as (the gateway's by default: it sends the RPC calls). */
export function serviceEnv(cluster: NatsCluster, role: ServiceRole = "gateway"): Record<string, string> {
  return {
    ...cluster.serviceEnv(role),
    CONCLAVE_REPLICAS: String(cluster.nodes.length),
    CONCLAVE_OP_TIMEOUT_MS: "1500",
    CONCLAVE_LOG_LEVEL: "warn",
    CONCLAVE_IP_RATE_PER_S: "100000",
    CONCLAVE_IP_BURST: "100000",
  };
}

export interface GatewayA {
  host: Host;
  handles: GatewayHandles;
}

export async function startReplicaA(
  cluster: NatsCluster,
  gwEnv: Record<string, string>,
  serviceOverrides: Record<string, string> = {},
): Promise<GatewayA> {
  const gateway = createGatewayModule({ config: loadGatewayConfig(gwEnv) });
  const host = await startHost({
    env: loadServiceEnv({ ...serviceEnv(cluster), CONCLAVE_PORT: "0", ...serviceOverrides }),
    modules: [membershipModule, gateway],
  });
  return { host, handles: gateway.handles(host.ctx) };
}

export function startReplicaB(cluster: NatsCluster, gwEnv: Record<string, string>): Promise<ServiceProcess> {
  return spawnService("services/gateway/src/main.ts", {
    ...serviceEnv(cluster),
    ...gwEnv,
    CONCLAVE_LOG_LEVEL: "info",
    CONCLAVE_INSTANCE: "gateway-b",
  });
}

export function identity(name: string, tenant = "acme"): KeyFile {
  return generateIdentity({ name, tenant, url: "http://127.0.0.1" });
}

const MEMBER_SCOPES = ["rpc:call", "rpc:read"];

/** Bootstraps `admin` as the operator (when asked) and adds users with the given scopes through A's users commands. */
export async function addUsers(
  a: GatewayA,
  admin: KeyFile,
  users: { key: KeyFile; scopes?: string[]; role?: "admin" | "member" }[],
  bootstrap = false,
  adminScopes: string[] = [],
): Promise<void> {
  const commands = userCommands(a.host.ctx);
  if (bootstrap) {
    await commands.bootstrap({
      sign_pub: admin.signPublicKey,
      kex_pub: admin.kexPublicKey,
      tenant: admin.tenant,
      role: "operator",
      scopes: adminScopes,
      name: admin.name,
    });
  }
  for (const u of users) {
    await commands.add(
      { signPub: admin.signPublicKey, role: "operator", tenant: admin.tenant },
      {
        sign_pub: u.key.signPublicKey,
        kex_pub: u.key.kexPublicKey,
        tenant: u.key.tenant,
        role: u.role ?? "member",
        scopes: u.scopes ?? MEMBER_SCOPES,
        name: u.key.name,
      },
    );
  }
}

export async function bearerFetch(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  json?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<SignedResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...extraHeaders };
  if (json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body };
}

export interface Session {
  token: string;
  jti: string;
  expires_at: string;
}

export async function openSession(baseUrl: string, who: KeyFile, body: unknown = {}): Promise<Session> {
  const res = await signedFetch(baseUrl, who, "POST", "/v1/sessions", body);
  if (res.status !== 201) throw new Error(`session refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Session;
}

export function rpc(method: string, params: unknown = {}, id: string | number = 1) {
  return { protocol: "conclave.v1", id, method, params };
}

export const errorOf = (body: unknown) =>
  (body as { error?: { code?: string; reason?: string; message?: string } }).error ?? {};

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
