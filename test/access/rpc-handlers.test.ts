import { spawnSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  generateCredentials,
  projectRoot,
  resolveNatsServer,
  seedAuthenticator,
  serverEnv,
  useCluster,
} from "@conclave/testkit";
import { headers } from "@nats-io/nats-core";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rpcHandlersConf, writeRpcHandlers } from "../../services/cli/src/rpc-handlers.ts";
import { type BotConnection, publishRefused, subscribeRefused, watchViolations } from "./bot-probe.ts";

// One NATS user per upstream handler (`conclave credentials rpc-handlers`): each takes calls on
// exactly its own methods, so no handler can take another party's calls (nor read their params).

const newSeed = () => new TextDecoder().decode(createUser().getSeed());
const publicKey = (seed: string) => fromSeed(new TextEncoder().encode(seed)).getPublicKey();
const seeds = { echo: newSeed(), notes: newSeed() };
const conf = rpcHandlersConf([
  { name: "echo", nkey: publicKey(seeds.echo), methods: ["echo.say", "echo.upper"] },
  { name: "notes", nkey: publicKey(seeds.notes), methods: ["notes.write"] },
]);

describe("RPC handlers with a user each", () => {
  const cluster = useCluster({ rpcHandlersConf: conf });
  const handlers = new Map<string, BotConnection>();
  beforeAll(async () => {
    for (const [name, seed] of Object.entries(seeds)) {
      const nc = await connect({ servers: cluster().urls, authenticator: seedAuthenticator(seed), name });
      handlers.set(name, watchViolations(nc));
    }
  });
  afterAll(async () => {
    for (const h of handlers.values()) await h.nc.close();
  });
  const handler = (name: string) => handlers.get(name) as BotConnection;

  it("a handler may take calls on its own methods only", async () => {
    expect(await subscribeRefused(handler("echo"), "conclave.rpc.echo.say")).toBe(false);
    expect(await subscribeRefused(handler("echo"), "conclave.rpc.echo.upper")).toBe(false);
    expect(await subscribeRefused(handler("notes"), "conclave.rpc.notes.write")).toBe(false);
    for (const subject of [
      "conclave.rpc.notes.write",
      "conclave.rpc.>",
      "conclave.rpc.echo.>",
      "conclave.rpc.*.*",
      ">",
    ]) {
      expect(await subscribeRefused(handler("echo"), subject), subject).toBe(true);
    }
    expect(await subscribeRefused(handler("notes"), "conclave.rpc.echo.say")).toBe(true);
  });

  it("publishes nothing but answers", async () => {
    for (const subject of ["conclave.rpc.echo.say", "conclave.ev.user.x", "$JS.API.INFO", "_INBOX.x"]) {
      expect(await publishRefused(handler("echo"), subject), subject).toBe(true);
    }
  });

  it("the gateway's call reaches the method's handler and its answer comes back", async () => {
    const sub = handler("notes").nc.subscribe("conclave.rpc.notes.write", {
      max: 1,
      callback: (_e, m) => void m.respond(`noted for ${m.headers?.get("tenant") ?? "?"}`),
    });
    await handler("notes").nc.flush();
    const gateway = await connect(cluster().connectOptions("gateway"));
    try {
      const h = headers();
      h.set("tenant", "acme");
      const answer = await gateway.request("conclave.rpc.notes.write", "{}", { timeout: 5_000, headers: h });
      expect(answer.string()).toBe("noted for acme");
    } finally {
      sub.unsubscribe();
      await gateway.close();
    }
  });

  it("the default handler user is not in this deployment's RPC account", async () => {
    const opts = { ...cluster().connectOptions("rpc"), maxReconnectAttempts: 0, timeout: 5_000 };
    await expect(connect(opts)).rejects.toThrow(/authoriz/i);
  });
});

describe("conclave credentials rpc-handlers", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-rpc-handlers-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes a seed per handler (0600, kept on a second run) and a config nats-server accepts", async () => {
    const first = await writeRpcHandlers(dir, ["echo=echo.say,echo.upper", "notes=notes.write"]);
    expect((await stat(join(dir, "rpc-echo.nk"))).mode & 0o777).toBe(0o600);
    const again = await writeRpcHandlers(dir, ["echo=echo.say", "notes=notes.write"]);
    expect(again.map((h) => h.nkey)).toEqual(first.map((h) => h.nkey));
    const text = await readFile(join(dir, "rpc-handlers.conf"), "utf8");
    // The file says the last run's methods: echo.upper is gone.
    expect(text).toContain('"conclave.rpc.echo.say"');
    expect(text).not.toContain("echo.upper");

    // nats-server's own config test, on a copy of deploy/nats with this file in it.
    const conf = join(dir, "conf");
    await cp(join(projectRoot(), "deploy", "nats"), conf, { recursive: true });
    await writeFile(join(conf, "rpc-handlers.conf"), text);
    const env = {
      ...process.env,
      ...serverEnv(generateCredentials()),
      NATS_SERVER_NAME: "n1",
      NATS_LISTEN: "127.0.0.1:4222",
      NATS_HTTP: "127.0.0.1:8222",
      NATS_STORE_DIR: join(dir, "store"),
    };
    const { path } = await resolveNatsServer();
    const check = spawnSync(path, ["-t", "-c", join(conf, "single-node.conf")], { env, encoding: "utf8" });
    expect(`${check.stdout}${check.stderr}`).toMatch(/is valid/);
  });

  it("refuses wildcards, bad names and handlers without methods", async () => {
    for (const spec of ["echo=echo.*", "echo=>", "echo=", "echo", "Echo=echo.say", "echo=echo.say,notes.>"]) {
      await expect(writeRpcHandlers(dir, [spec]), spec).rejects.toThrow();
    }
    expect(() => rpcHandlersConf([{ name: "x", nkey: "not-a-key", methods: ["echo.say"] }])).toThrow();
    expect(() => rpcHandlersConf([])).toThrow();
  });
});
