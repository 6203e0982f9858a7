import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { onPath, root, runs } from "./deploy-files.ts";

// What only Docker itself can check. SKIPPED on the development and CI machines
// (a docker CLI without an engine or the compose plugin): UNTESTED HERE until a
// machine with Docker runs this file.
const docker = onPath("docker");
const compose = docker !== undefined && runs(docker, ["compose", "version"]);
const engine = docker !== undefined && runs(docker, ["info"]);
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(docker as string, args, { cwd: root, encoding: "utf8", timeout: 600_000, env: { ...process.env, ...env } });

describe.skipIf(!compose)("docker compose (SKIPPED without the compose plugin: untested here)", () => {
  it("accepts docker-compose.yml (schema, interpolation, anchors)", () => {
    // Any well-formed key will do for the config check; a real one is generated per docs/runbook.md.
    const r = run(["compose", "config", "--quiet"], { CONCLAVE_GATEWAY_JWT_KEY: "A".repeat(86) });
    expect(r.status, r.stderr).toBe(0);
  });

  it("refuses to start without the gateway's signing key", () => {
    const r = run(["compose", "config", "--quiet"], { CONCLAVE_GATEWAY_JWT_KEY: "" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/CONCLAVE_GATEWAY_JWT_KEY/);
  });
});

describe.skipIf(!engine)("docker build (SKIPPED without a Docker engine: untested here)", () => {
  it("passes the Dockerfile's build checks", () => {
    const r = run(["build", "--check", "."]);
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it("builds the runtime image, which runs as a non-root user", () => {
    const build = run(["build", "--target", "runtime", "-t", "conclave-server:test", "."]);
    expect(build.status, build.stderr).toBe(0);
    const user = run(["run", "--rm", "--entrypoint", "id", "conclave-server:test", "-u"]);
    expect(user.stdout.trim()).not.toBe("0");
  });
});
