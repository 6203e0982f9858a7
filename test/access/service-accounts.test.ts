import { createConnection } from "node:net";
import { SERVICE_ROLES, type ServiceRole, seedAuthenticator, useCluster } from "@conclave/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { createUser } from "@nats-io/nkeys";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BotConnection, publishRefused, subscribeRefused, watchViolations } from "./bot-probe.ts";

// The accounts of deploy/nats/accounts.conf, as every harness cluster runs them (no access service
// here: a client that is no static user goes to a callout nobody answers, and is refused).

const RPC = "conclave.rpc.echo.say";
const AUTH = "$SYS.REQ.USER.AUTH";
// Who may send RPC calls, who may take them, who may take callouts.
const MAY_CALL: ServiceRole[] = ["gateway"];
const MAY_SERVE: ServiceRole[] = ["rpc"];
const MAY_ANSWER_CALLOUTS: ServiceRole[] = ["access"];
// The users of the services account (handlers are in the RPC account, without JetStream).
const SERVICE_USERS = SERVICE_ROLES.filter((r) => !MAY_SERVE.includes(r));

describe("services-account users each reach only what is theirs", () => {
  const cluster = useCluster();
  const users = new Map<ServiceRole, BotConnection>();

  beforeAll(async () => {
    for (const role of SERVICE_ROLES) {
      users.set(role, watchViolations(await connect({ ...cluster().connectOptions(role), name: role })));
    }
  });
  afterAll(async () => {
    for (const u of users.values()) await u.nc.close();
  });
  const user = (role: ServiceRole) => users.get(role) as BotConnection;

  it("an anonymous client and an unregistered nkey are refused", async () => {
    const opts = { servers: cluster().urls, maxReconnectAttempts: 0, timeout: 10_000 };
    await expect(connect(opts)).rejects.toThrow(/authoriz/i);
    const stranger = seedAuthenticator(new TextDecoder().decode(createUser().getSeed()));
    await expect(connect({ ...opts, authenticator: stranger })).rejects.toThrow(/authoriz/i);
  });

  it.for(SERVICE_USERS)("%s uses JetStream (the services account has it)", async (role) => {
    const jsm = await jetstreamManager(user(role).nc);
    expect((await jsm.getAccountInfo()).limits).toBeDefined();
  });

  it("an RPC handler has no JetStream and may publish nothing but answers", async () => {
    const handler = user("rpc");
    // The RPC account has no JetStream: the API answers no one (no responders), it is not refused.
    const jsm = await jetstreamManager(handler.nc, { timeout: 2_000 }).catch((err: Error) => err);
    expect(jsm).toBeInstanceOf(Error);
    for (const subject of ["conclave.ev.user.x", "$KV.conclave_users.x", "conclave.room.acme.r1", RPC, "_INBOX.x"]) {
      expect(await publishRefused(handler, subject), subject).toBe(true);
    }
    for (const subject of ["conclave.room.>", "conclave.ev.>", "_INBOX.>", ">"]) {
      expect(await subscribeRefused(handler, subject), subject).toBe(true);
    }
  });

  it.for(SERVICE_ROLES)("%s may send RPC calls only if it is the gateway", async (role) => {
    expect(await publishRefused(user(role), RPC)).toBe(!MAY_CALL.includes(role));
  });

  it.for(SERVICE_ROLES)("%s may take RPC calls only if it is an RPC handler", async (role) => {
    expect(await subscribeRefused(user(role), RPC)).toBe(!MAY_SERVE.includes(role));
  });

  it.for(SERVICE_ROLES)("%s may listen for auth callouts only if it is the access service", async (role) => {
    expect(await subscribeRefused(user(role), AUTH)).toBe(!MAY_ANSWER_CALLOUTS.includes(role));
  });

  it("a call from the gateway reaches a handler and its answer comes back", async () => {
    const sub = user("rpc").nc.subscribe(RPC, { max: 1, callback: (_e, m) => void m.respond("pong") });
    await user("rpc").nc.flush();
    expect((await user("gateway").nc.request(RPC, "ping", { timeout: 5_000 })).string()).toBe("pong");
    sub.unsubscribe();
  });

  it("the system user finds connections and may do nothing else", async () => {
    const sys = watchViolations(
      await connect({ servers: cluster().urls, authenticator: seedAuthenticator(cluster().credentials.system) }),
    );
    try {
      const answer = await sys.nc.request("$SYS.REQ.SERVER.PING.CONNZ", JSON.stringify({ acc: "SERVICES" }), {
        timeout: 5_000,
      });
      const connz = answer.json<{ data: { connections: { name?: string }[] } }>().data;
      expect(connz.connections.map((c) => c.name)).toEqual(expect.arrayContaining(SERVICE_USERS));
      for (const subject of ["$SYS.REQ.SERVER.PING.ACCOUNTZ", "$SYS.REQ.ACCOUNT.SERVICES.CONNZ", "conclave.ev.x"]) {
        expect(await publishRefused(sys, subject), subject).toBe(true);
      }
      expect(await subscribeRefused(sys, "$SYS.>")).toBe(true);
    } finally {
      await sys.nc.close();
    }
  });
});

/** What a route port answers to a CONNECT with `creds` (the server's first line after it). */
function routeAnswer(port: number, creds: { user?: string; pass?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    let buf = "";
    let sent = false;
    const timer = setTimeout(() => finish(`no answer; got ${JSON.stringify(buf)}`), 10_000);
    const finish = (line: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(line);
    };
    sock.on("error", reject);
    sock.on("data", (d) => {
      buf += d.toString();
      if (!sent && buf.includes("\r\n")) {
        sent = true;
        buf = buf.slice(buf.indexOf("\r\n") + 2);
        sock.write(
          `CONNECT ${JSON.stringify({ verbose: false, pedantic: false, name: "intruder", ...creds })}\r\nPING\r\n`,
        );
      }
      const lines = buf.split("\r\n").filter((l) => l.startsWith("-ERR") || l === "PONG");
      if (lines[0]) finish(lines[0]);
    });
    sock.on("close", () => finish(`closed; got ${JSON.stringify(buf)}`));
  });
}

describe("cluster routes authenticate", () => {
  const cluster = useCluster({ nodes: 3 });

  it("a route without the route credentials, or with a wrong password, is refused", async () => {
    const port = cluster().node(0).spec.clusterPort as number;
    const { user } = cluster().credentials.route;
    expect(await routeAnswer(port, {})).toMatch(/Authorization Violation/i);
    expect(await routeAnswer(port, { user, pass: "wrong" })).toMatch(/Authorization Violation/i);
  });

  it("the nodes themselves, with the credentials, form the cluster", async () => {
    const routez = await (await fetch(`${cluster().node(0).monitorUrl}/routez`)).json();
    expect(new Set((routez as { routes: { remote_name: string }[] }).routes.map((r) => r.remote_name))).toEqual(
      new Set(["n2", "n3"]),
    );
  });
});
