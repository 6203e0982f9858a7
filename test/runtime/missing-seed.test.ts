import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { generateCredentials, projectRoot } from "@conclave/testkit";
import { describe, expect, it } from "vitest";

// A service given no NATS credentials says so at start (exit 2, naming the variable) instead of
// retrying connects the servers refuse (deploy/nats admits no anonymous client).

const SERVICES = ["membership", "blob", "gateway", "access"];
const set = generateCredentials();
/** Everything else each service requires, so that the seed is the one thing missing. */
const REQUIRED: Record<string, Record<string, string>> = {
  gateway: { CONCLAVE_GATEWAY_JWT_KEY: "A".repeat(86) },
  access: { CONCLAVE_ACCESS_ISSUER_SEED: set.issuer, CONCLAVE_NATS_SYSTEM_SEED: set.system },
};

describe("a service without a NATS seed", () => {
  it.for(SERVICES)("%s exits 2 naming CONCLAVE_NATS_SEED_FILE, before connecting", (service) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      // Nothing listens here: had it tried to connect, it would not exit 2.
      CONCLAVE_NATS_URLS: "nats://127.0.0.1:1",
      CONCLAVE_PORT: "0",
      ...REQUIRED[service],
    };
    const run = spawnSync(process.execPath, ["--import", "tsx", join("services", service, "src", "main.ts")], {
      cwd: projectRoot(),
      env,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.stderr).toMatch(/CONCLAVE_NATS_SEED_FILE: required/);
    expect(run.status).toBe(2);
  });
});
