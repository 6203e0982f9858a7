import { generateIdentity, type KeyFile } from "@conclave/auth";
import { BLOB_STREAM, blobModule, objectName } from "@conclave/blob";
import { membershipModule, userCommands } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import { OBJECT_STORES } from "@conclave/store";
import type { NatsCluster } from "@conclave/testkit";
import { type ObjectInfo, Objm } from "@nats-io/obj";
import { signedFetch } from "../support/signed-client.ts";

// One in-process host serving membership and blobs (as the local start does),
// a bootstrapped admin, and users added through the users API: two members of
// tenant "acme" (one without blob scopes) and one member of tenant "globex".

export interface BlobWorld {
  host: Host;
  /** Environment shared with replicas spawned as OS processes. */
  env: Record<string, string>;
  admin: KeyFile;
  bot: KeyFile;
  /** acme member whose scopes do not include blobs. */
  roomsOnly: KeyFile;
  /** A member of another tenant. */
  stranger: KeyFile;
}

export async function startBlobWorld(
  cluster: NatsCluster,
  replicas: number,
  extra: Record<string, string> = {},
): Promise<BlobWorld> {
  const env = {
    ...cluster.serviceEnv("blob"),
    CONCLAVE_REPLICAS: String(replicas),
    CONCLAVE_OP_TIMEOUT_MS: "1500",
    CONCLAVE_LOG_LEVEL: "error",
    CONCLAVE_IP_RATE_PER_S: "100000",
    CONCLAVE_IP_BURST: "100000",
    ...extra,
  };
  const host = await startHost({
    env: loadServiceEnv({ ...env, CONCLAVE_PORT: "0" }),
    modules: [membershipModule, blobModule],
  });
  const id = (name: string, tenant: string) => generateIdentity({ name, tenant, url: host.url });
  const world: BlobWorld = {
    host,
    env,
    admin: id("admin", "acme"),
    bot: id("bot", "acme"),
    roomsOnly: id("rooms-only", "acme"),
    stranger: id("stranger", "globex"),
  };
  const user = (k: KeyFile, role: "operator" | "admin" | "member") => ({
    sign_pub: k.signPublicKey,
    kex_pub: k.kexPublicKey,
    tenant: k.tenant,
    role,
  });
  await userCommands(host.ctx).bootstrap({ ...user(world.admin, "operator"), scopes: [] });
  for (const [k, scopes] of [
    [world.bot, undefined],
    [world.roomsOnly, ["rooms:read"]],
    [world.stranger, undefined],
  ] as const) {
    const res = await signedFetch(host.url, world.admin, "POST", "/v1/users", {
      ...user(k, "member"),
      ...(scopes ? { scopes } : {}),
    });
    if (res.status !== 201) throw new Error(`adding ${k.name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return world;
}

/** The Object Store's own view of a tenant's blob (null: no such object), bypassing the service. */
export async function storedObject(host: Host, tenant: string, sha256: string): Promise<ObjectInfo | null> {
  const os = await new Objm(host.ctx.store.conn.js).open(OBJECT_STORES.blobs.name);
  return os.info(objectName(tenant, sha256));
}

/** Names of every object in the bucket, as the Object Store lists them. */
export async function storedNames(host: Host): Promise<string[]> {
  const os = await new Objm(host.ctx.store.conn.js).open(OBJECT_STORES.blobs.name);
  return (await os.list()).map((o) => o.name);
}

/** Messages in the Object Store's stream, and its last sequence (which never goes back). */
export async function objectStreamState(host: Host): Promise<{ messages: number; lastSeq: number }> {
  const { state } = await host.ctx.store.conn.jsm.streams.info(BLOB_STREAM);
  return { messages: state.messages, lastSeq: state.last_seq };
}
