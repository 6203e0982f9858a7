import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { chmod, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readKeyFile, SignedHttp } from "@conclave/client";
import { freePorts } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, root, run, until } from "./docker.ts";
import { readmeProductionCommands } from "./readme-commands.ts";

// The real docker-compose.yml, booted the way the README tells an operator to,
// with the images named by NODE_IMAGE, NATS_IMAGE and NGINX_IMAGE (local builds
// where no registry answers; test/containers/global-setup.ts). Its own project
// name and a free loopback port, so it never meets an operator's stack.
const PROJECT = "conclave-ctest";
const SECRETS = [".env", "admin.key.json", "nats-credentials"];
const LONG_RUNNING = ["nats-1", "nats-2", "nats-3", "membership", "blob", "gateway", "access", "lb"];

let env: NodeJS.ProcessEnv;
let lbUrl: string;
const compose = (args: string[]) => docker(["compose", ...args], env);
const container = (service: string, index = 1) => `${PROJECT}-${service}-${index}`;
const timings: Record<string, number> = {};

interface PsLine {
  Service: string;
  Name: string;
  State: string;
  Health: string;
}
async function ps(): Promise<PsLine[]> {
  const out = await compose(["ps", "--all", "--format", "json"]);
  return out
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as PsLine);
}
async function allHealthy(): Promise<boolean> {
  const lines = await ps();
  return LONG_RUNNING.every((s) => {
    const mine = lines.filter((l) => l.Service === s);
    return mine.length > 0 && mine.every((l) => l.State === "running" && l.Health === "healthy");
  });
}

/** Signed GETs through the load balancer from `workers` loops until stop(); counts what failed after the SDK's retries. */
function signedLoad(http: SignedHttp, workers = 4) {
  const counts = { ok: 0, failed: 0, attempts: 0, errors: [] as string[] };
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        await http.json("GET", "/v1/users");
        counts.ok++;
      } catch (err) {
        counts.failed++;
        counts.errors.push((err as Error).message);
      }
    }
  });
  return {
    counts,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}

describe("docker-compose.yml on a real Docker engine", () => {
  beforeAll(async () => {
    const [port] = await freePorts(1);
    lbUrl = `http://127.0.0.1:${port}`;
    env = {
      ...process.env,
      COMPOSE_PROJECT_NAME: PROJECT,
      CONCLAVE_LB_ADDRESS: "127.0.0.1",
      CONCLAVE_LB_PORT: String(port),
    };
    // What a killed earlier run may have left.
    await run("docker", ["compose", "down", "-v", "--remove-orphans", "--timeout", "1"], { env });
    // The README writes its secrets into the checkout: keep an operator's own aside.
    for (const f of SECRETS) if (existsSync(join(root, f))) renameSync(join(root, f), join(root, `${f}.before-ctest`));
  });

  afterAll(async () => {
    const down = await run("docker", ["compose", "down", "-v", "--remove-orphans", "--timeout", "5"], { env });
    timings["down -v"] = down.ms;
    for (const f of SECRETS) {
      rmSync(join(root, f), { force: true, recursive: true });
      if (existsSync(join(root, `${f}.before-ctest`))) renameSync(join(root, `${f}.before-ctest`), join(root, f));
    }
    console.log(`compose timings (ms): ${JSON.stringify(timings)}`);
    expect(down.code, down.stderr).toBe(0);
  });

  it("runs every command of the README's production section as written, and the stack becomes healthy", async () => {
    const commands = readmeProductionCommands();
    expect(commands.length).toBeGreaterThan(3);
    const started = Date.now();
    let last = "";
    for (const command of commands) {
      const r = await run("bash", ["-euo", "pipefail", "-c", command], { env });
      timings[command.split(" ").slice(0, 3).join(" ")] = r.ms;
      expect(r.code, `${command}\n${r.stdout}${r.stderr}`).toBe(0);
      last = r.stdout;
    }
    // `users list` printed the bootstrap admin.
    expect(last).toMatch(/admin/);
    await until("every long-running service healthy", allHealthy, 120_000);
    timings["README start → all healthy"] = Date.now() - started;
    // The secrets it wrote are private to the operator and ignored by git.
    for (const f of SECRETS) {
      expect((await run("stat", ["-c", "%a", f])).stdout.trim(), f).toBe(f === "nats-credentials" ? "700" : "600");
      expect((await run("git", ["check-ignore", "-q", f])).code, `${f} ignored by git`).toBe(0);
    }
  });

  it("built the service image once: every replica runs the same image id", async () => {
    const ids = new Set<string>();
    for (const s of ["membership", "blob", "gateway"]) {
      for (const i of [1, 2]) ids.add((await docker(["inspect", "-f", "{{.Image}}", container(s, i)])).trim());
    }
    expect(ids.size).toBe(1);
  });

  it("bootstraps idempotently: running it again succeeds with the same admin key", async () => {
    const before = readFileSync(join(root, "admin.key.json"), "utf8");
    await compose(["up", "-d"]);
    const wait = await run("docker", ["compose", "wait", "bootstrap"], { env });
    expect(wait.code, wait.stdout + wait.stderr).toBe(0);
    await docker(["cp", `${container("bootstrap")}:/keys/admin.key.json`, join(tmpdir(), "ctest-admin.key.json")]);
    expect(readFileSync(join(tmpdir(), "ctest-admin.key.json"), "utf8")).toBe(before);
    await rm(join(tmpdir(), "ctest-admin.key.json"), { force: true });
  });

  it("keeps signed requests succeeding while a NATS container and a service container are killed", async () => {
    const identity = await readKeyFile(join(root, "admin.key.json"));
    let attempts = 0;
    const counting: typeof fetch = (input, init) => {
      attempts++;
      return fetch(input, init);
    };
    const http = new SignedHttp({ url: lbUrl, identity, fetch: counting });
    const load = signedLoad(http);
    const okAfter = async (n: number) => {
      const target = load.counts.ok + n;
      await until(`${target} requests ok`, () => load.counts.ok >= target);
    };
    await okAfter(20);
    // docker kill counts as a manual stop: the node stays down until started again (docs/runbook.md).
    await docker(["kill", container("nats-2")]);
    await okAfter(100);
    await docker(["kill", container("membership", 1)]);
    await okAfter(100);
    await compose(["start", "nats-2", "membership"]);
    await until("every long-running service healthy", allHealthy, 120_000);
    await okAfter(20);
    const counts = await load.stop();
    console.log(
      `kill under load: ${counts.ok} signed requests ok, ${counts.failed} failed, ${attempts - counts.ok - counts.failed} retried by the SDK`,
    );
    if (counts.errors.length > 0) {
      // Every attempt the balancer failed, with the replica it tried: what to read when this rare failure
      // (1 GET of ~900 failed after its 4 attempts, once in 5 runs on 2026-12-04) comes back.
      const failedAttempts = (await compose(["logs", "--no-color", "--no-log-prefix", "lb"]))
        .split("\n")
        .filter((l) => /"status":5\d\d/.test(l));
      console.log(`balancer 5xx during the kills (${failedAttempts.length}):\n${failedAttempts.join("\n")}`);
    }
    expect(counts.errors).toEqual([]);
  });

  it("restarts a NATS node that crashed (its process killed, not `docker kill`)", async () => {
    const pid = (await docker(["inspect", "-f", "{{.State.Pid}}", container("nats-3")])).trim();
    const restarts = async () =>
      Number((await docker(["inspect", "-f", "{{.RestartCount}}", container("nats-3")])).trim());
    const before = await restarts();
    process.kill(Number(pid), "SIGKILL");
    await until("nats-3 restarted by the engine", async () => (await restarts()) > before);
    await until("every long-running service healthy", allHealthy, 120_000);
  });

  it("routes around replicas removed by a scale-down (no request fails)", async () => {
    const identity = await readKeyFile(join(root, "admin.key.json"));
    await compose(["up", "-d", "--no-recreate", "--scale", "membership=4"]);
    await until("every long-running service healthy", allHealthy, 120_000);
    const load = signedLoad(new SignedHttp({ url: lbUrl, identity }));
    await until("50 requests ok", () => load.counts.ok >= 50);
    await compose(["up", "-d", "--no-recreate", "--scale", "membership=2"]);
    const target = load.counts.ok + 200;
    await until(`${target} requests ok`, () => load.counts.ok >= target);
    const counts = await load.stop();
    console.log(`scale-down 4 -> 2 under load: ${counts.ok} ok, ${counts.failed} failed (after the SDK's retries)`);
    expect(counts.errors).toEqual([]);
  });

  it("runs the SDK's demo bots from a container on the compose network (the NATS port is not published)", async () => {
    const lb = (await docker(["port", container("lb"), "8080"])).trim();
    expect(lb.startsWith("127.0.0.1:")).toBe(true);
    for (const n of ["nats-1", "nats-2", "nats-3"]) {
      expect((await docker(["port", container(n)])).trim(), `${n} publishes no port`).toBe("");
    }
    // The admin key as seen from inside the network: the balancer's service name, not localhost.
    const data = await mkdtemp(join(tmpdir(), "ctest-demo-"));
    await chmod(data, 0o777);
    const admin = JSON.parse(readFileSync(join(root, "admin.key.json"), "utf8")) as { url: string };
    // Mode 0600 and owned by the image's user (uid 1000): the SDK refuses a key file others can read.
    await writeFile(join(data, "admin.key.json"), JSON.stringify({ ...admin, url: "http://lb:8080" }), { mode: 0o600 });
    await chown(join(data, "admin.key.json"), 1000, 1000);
    try {
      const r = await run(
        "docker",
        [
          "run",
          "--rm",
          "--network",
          `${PROJECT}_default`,
          "-v",
          `${data}:/data`,
          "-e",
          "CONCLAVE_DATA_DIR=/data",
          "-e",
          "CONCLAVE_NATS_URL=nats://nats-1:4222",
          "conclave-tools:local",
          "node",
          "--import",
          "tsx",
          "libs/client/examples/demo-bots.ts",
        ],
        { env },
      );
      expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
      console.log(`demo bots in a container:\n${r.stdout}`);
    } finally {
      await run("rm", ["-rf", data]);
    }
  });
});
