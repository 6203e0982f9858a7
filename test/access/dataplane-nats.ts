import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePorts, NatsNode, resolveNatsServer } from "@conclave/testkit";
import { createAccount, createUser, type KeyPair } from "@nats-io/nkeys";
import { afterAll, afterEach, beforeAll } from "vitest";

/**
 * nats-server with the data-plane accounts (SPEC §10), written by the test
 * itself until deploy/nats carries them: a SERVICES account with JetStream
 * and static nkey users (services, the callout), a BOTS account without
 * JetStream and without users, and the auth callout for BOTS. No anonymous
 * access and no no_auth_user.
 */
export interface DataplaneNats {
  nodes: NatsNode[];
  urls: string[];
  /**
   * Seeds ("SU…") of the services-account users and of the restricted system user (CONNZ/KICK only,
   * contracts.md); the account seed ("SA…") of the callout's issuer.
   */
  seeds: { service: string; callout: string; system: string; issuer: string };
  logs(): string;
  stop(): Promise<void>;
}

const seedOf = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());

type DataplaneKeys = { service: KeyPair; callout: KeyPair; system: KeyPair; issuer: KeyPair };

export function dataplaneConfig(keys: DataplaneKeys, clustered: boolean) {
  return `server_name: $NATS_SERVER_NAME
listen: $NATS_LISTEN
http: $NATS_HTTP
jetstream { store_dir: $NATS_STORE_DIR }
${clustered ? "cluster { name: conclave, listen: $NATS_CLUSTER_LISTEN, routes: $NATS_ROUTES }" : ""}
accounts {
  SERVICES {
    jetstream: enabled
    users: [
      { nkey: ${keys.service.getPublicKey()} }
      { nkey: ${keys.callout.getPublicKey()} }
    ]
  }
  BOTS {}
  # Finds and closes bots' connections (live disconnect, services/access): nothing else.
  SYS {
    users: [
      {
        nkey: ${keys.system.getPublicKey()}
        permissions: {
          publish: { allow: ["$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.SERVER.*.KICK"] }
          subscribe: { allow: ["_INBOX.>"] }
        }
      }
    ]
  }
}
system_account: SYS
authorization {
  timeout: 2
  auth_callout {
    issuer: ${keys.issuer.getPublicKey()}
    account: SERVICES
    auth_users: [ ${keys.callout.getPublicKey()} ]
    allowed_accounts: [ BOTS ]
  }
}
`;
}

export async function startDataplaneNats(count = 1): Promise<DataplaneNats> {
  const bin = await resolveNatsServer();
  const dir = await mkdtemp(join(tmpdir(), "conclave-dataplane-"));
  const keys = { service: createUser(), callout: createUser(), system: createUser(), issuer: createAccount() };
  const configFile = join(dir, "nats.conf");
  await writeFile(configFile, dataplaneConfig(keys, count > 1));
  const ports = await freePorts(count * 3);
  const port = (i: number, kind: number) => ports[i * 3 + kind] as number;
  const routes = count > 1 ? Array.from({ length: count }, (_, i) => `nats://127.0.0.1:${port(i, 2)}`) : undefined;
  const nodes = Array.from(
    { length: count },
    (_, i) =>
      new NatsNode(bin.path, {
        name: `n${i + 1}`,
        host: "127.0.0.1",
        clientPort: port(i, 0),
        httpPort: port(i, 1),
        ...(routes ? { clusterPort: port(i, 2), routes } : {}),
        storeDir: join(dir, `n${i + 1}`),
        logFile: join(dir, `n${i + 1}.log`),
        configFile,
      }),
  );
  const logs = () =>
    nodes
      .map((n) => `--- ${n.name}\n${readFileSync(n.spec.logFile, "utf8").split("\n").slice(-40).join("\n")}`)
      .join("\n");
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const deadline = Date.now() + 30_000;
    while (!(await Promise.all(nodes.map((n) => n.healthy()))).every(Boolean)) {
      if (Date.now() > deadline) throw new Error("the data-plane nats-server did not become healthy");
      await sleep(100);
    }
  } catch (err) {
    const text = logs();
    await stop();
    throw new Error(`${(err as Error).message}\n${text}`);
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    seeds: {
      service: seedOf(keys.service),
      callout: seedOf(keys.callout),
      system: seedOf(keys.system),
      issuer: seedOf(keys.issuer),
    },
    logs,
    stop,
  };
}

/** The server for a vitest file or describe block; its logs are printed when a test fails. */
export function useDataplaneNats(count = 1): () => DataplaneNats {
  let nats: DataplaneNats | undefined;
  beforeAll(async () => {
    nats = await startDataplaneNats(count);
  });
  afterEach((ctx) => {
    if (nats && ctx.task.result?.state === "fail") console.error(`nats-server logs:\n${nats.logs()}`);
  });
  afterAll(async () => {
    await nats?.stop();
  });
  return () => {
    if (!nats) throw new Error("the data-plane server is not started");
    return nats;
  };
}
