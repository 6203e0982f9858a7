import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePorts, projectRoot } from "@conclave/testkit";
import { createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The README's path, end to end: the local start, the CLI, and the demo bots (SDK).

const root = projectRoot();
const tsx = ["--import", "tsx"];

describe("local start + CLI + demo bots", () => {
  let dir: string;
  let start: ChildProcess;
  let url: string;
  let natsUrl: string;
  const output: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-e2e-"));
    const [port, natsPort] = await freePorts(2);
    natsUrl = `nats://127.0.0.1:${natsPort}`;
    start = spawn(process.execPath, [...tsx, "deploy/local/start.ts"], {
      cwd: root,
      env: {
        ...process.env,
        CONCLAVE_DATA_DIR: dir,
        CONCLAVE_PORT: String(port),
        CONCLAVE_NATS_PORT: String(natsPort),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    start.stderr?.on("data", (b: Buffer) => output.push(b.toString()));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`local start did not come up:\n${output.join("")}`)), 60_000);
      createInterface({ input: start.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        output.push(line);
        const up = line.match(/Conclave is up at (\S+)/);
        if (up?.[1]) {
          clearTimeout(timer);
          resolve(up[1]);
        }
      });
      start.once("exit", (code) => reject(new Error(`local start exited ${code}:\n${output.join("\n")}`)));
    });
  });

  afterAll(async () => {
    if (start && start.exitCode === null) {
      const exited = new Promise((r) => start.once("exit", r));
      start.kill("SIGINT");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  // The CLI on NATS as the operator user the local start generated (bootstrap, projections).
  const operatorSeed = () => ({ CONCLAVE_NATS_SEED_FILE: join(dir, "credentials", "operator.nk") });
  const cliAs = (seed: Record<string, string>, ...args: string[]) =>
    spawnSync(process.execPath, ["services/cli/bin/conclave.mjs", "--key-file", join(dir, "admin.key.json"), ...args], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, CONCLAVE_NATS_URLS: natsUrl, ...seed },
      timeout: 60_000,
    });
  const cli = (...args: string[]) => cliAs(operatorSeed(), ...args);

  it("bootstraps an admin whose key file is private, and prints the URL", async () => {
    expect(output.join("\n")).toContain(join(dir, "admin.key.json"));
    expect((await stat(join(dir, "admin.key.json"))).mode & 0o777).toBe(0o600);
    for (const file of ["operator.nk", "gateway.nk", "access.nk", "issuer.nk", "nats.env"]) {
      expect((await stat(join(dir, "credentials", file))).mode & 0o777, file).toBe(0o600);
    }
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it("the CLI adds and lists users, answers --json, and fails clearly", () => {
    const botKey = join(dir, "cli-bot.key.json");
    expect(cli("keys", "new", "--name", "cli-bot", "--tenant", "local", "--out", botKey).status).toBe(0);
    const added = cli("users", "add", "--from-key-file", botKey);
    expect(added.status, added.stderr).toBe(0);
    const list = cli("--json", "users", "list");
    expect(list.status).toBe(0);
    expect((JSON.parse(list.stdout) as { name?: string }[]).map((u) => u.name)).toContain("cli-bot");
    const again = cli("users", "add", "--from-key-file", botKey);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/^error: 409 conflict/);
    const bad = cli("users", "show", "not-a-key");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("sign_pub");
    const help = cli("users", "--help");
    expect(help.stdout).toContain("revoke");
    const second = cli("bootstrap", "--nats", natsUrl);
    expect(second.status, second.stdout).toBe(0); // same admin key: an interrupted bootstrap completes, nothing new
    const rebuilt = cli("--json", "projections", "rebuild", "--nats", natsUrl);
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    // Without a seed the CLI says which one it needs before connecting (NATS admits no anonymous
    // client); a seed NATS does not know is refused by NATS; a file that is no seed is refused at once.
    const anonymous = cliAs({}, "bootstrap", "--nats", natsUrl);
    expect(anonymous.status).not.toBe(0);
    expect(anonymous.stderr).toMatch(/CONCLAVE_NATS_SEED_FILE: required/);
    const strangerSeed = join(dir, "stranger.nk");
    writeFileSync(strangerSeed, `${new TextDecoder().decode(createUser().getSeed())}\n`, { mode: 0o600 });
    const stranger = cliAs({}, "bootstrap", "--nats", natsUrl, "--nats-seed-file", strangerSeed);
    expect(stranger.status).not.toBe(0);
    expect(stranger.stderr).toMatch(/authoriz/i);
    const notASeed = cli("bootstrap", "--nats-seed-file", join(dir, "credentials", "nats.env"));
    expect(notASeed.status).not.toBe(0);
    expect(notASeed.stderr).toMatch(/SU…/);
  });

  it("credentials init writes a fresh private set once and refuses to overwrite it", async () => {
    const out = join(dir, "prod-credentials");
    const init = cli("--json", "credentials", "init", "--dir", out);
    expect(init.status, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout).NATS_NKEY_GATEWAY).toMatch(/^U[A-Z2-7]{55}$/);
    for (const file of ["gateway.nk", "membership.nk", "blob.nk", "access.nk", "operator.nk", "rpc.nk", "system.nk"]) {
      expect((await stat(join(out, file))).mode & 0o777, file).toBe(0o600);
    }
    expect(cli("credentials", "init", "--dir", out).status).not.toBe(0);
  });

  it("the demo bots find each other, talk end to end, share a blob and rotate the key", () => {
    const demo = spawnSync(process.execPath, [...tsx, "libs/client/examples/demo-bots.ts"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, CONCLAVE_DATA_DIR: dir, CONCLAVE_NATS_URL: natsUrl },
      timeout: 90_000,
    });
    expect(demo.status, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    expect(demo.stdout).toContain("identical: true");
    expect(demo.stdout).toContain("rotated the room key to epoch 2");
    expect(demo.stdout).toContain("demo complete");
  });
});
