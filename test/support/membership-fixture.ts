import { randomBytes } from "node:crypto";
import { generateIdentity, type KeyFile } from "@conclave/auth";
import { membershipModule, userCommands } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost, toPrincipal } from "@conclave/runtime";
import type { NatsCluster } from "@conclave/testkit";

/** What the fixture's members may do with rooms. */
export const ROOM_SCOPES = ["rooms:read", "rooms:write"];

/** An active member of its tenant with the room scopes, as commands take it (no request in between). */
export const memberPrincipal = (k: KeyFile) =>
  toPrincipal({
    sign_pub: k.signPublicKey,
    kex_pub: k.kexPublicKey,
    tenant: k.tenant,
    role: "member",
    scopes: ROOM_SCOPES,
    status: "active",
    created_at: new Date().toISOString(),
  });

/** An in-process membership host on `cluster` (R1, quiet, the per-IP bucket out of the way). */
export function startMembershipHost(cluster: NatsCluster): Promise<Host> {
  return startHost({
    env: loadServiceEnv({
      ...cluster.serviceEnv("membership"),
      CONCLAVE_REPLICAS: "1",
      CONCLAVE_LOG_LEVEL: "warn",
      CONCLAVE_IP_RATE_PER_S: "100000",
      CONCLAVE_IP_BURST: "100000",
      CONCLAVE_PORT: "0",
    }),
    modules: [membershipModule],
  });
}

/** Bootstraps `key` as the operator (of its own tenant). */
export async function bootstrapOperator(host: Host, key: KeyFile): Promise<void> {
  await userCommands(host.ctx).bootstrap({
    sign_pub: key.signPublicKey,
    kex_pub: key.kexPublicKey,
    tenant: key.tenant,
    role: "operator",
    scopes: [],
  });
}

/** A fresh identity for tests (tenant acme unless said otherwise). */
export function identity(name: string, tenant = "acme"): KeyFile {
  return generateIdentity({ name, tenant, url: "http://127.0.0.1" });
}

/** An opaque sealed key stand-in: the server never opens it. */
export function fakeSealedKey(): string {
  return randomBytes(48).toString("base64url");
}

/** Registers identities directly through the users commands of an in-process host (`admin`: the operator). */
export async function register(host: Host, admin: KeyFile, users: KeyFile[], bootstrap = false): Promise<void> {
  const commands = userCommands(host.ctx);
  const record = (k: KeyFile, role: "operator" | "admin" | "member") => ({
    sign_pub: k.signPublicKey,
    kex_pub: k.kexPublicKey,
    tenant: k.tenant,
    role,
    scopes: role === "member" ? ROOM_SCOPES : ([] as string[]),
    name: k.name,
  });
  if (bootstrap) await commands.bootstrap(record(admin, "operator"));
  const actor = { signPub: admin.signPublicKey, role: "operator" as const, tenant: admin.tenant };
  for (const u of users) await commands.add(actor, record(u, "member"));
}
