import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isLoopbackHost, loadServiceEnv } from "./config.ts";
import { natsAuthenticator } from "./nats-credentials.ts";

describe("service configuration", () => {
  it("applies defaults and splits the NATS URLs", () => {
    const env = loadServiceEnv({ CONCLAVE_NATS_URLS: "nats://a:4222, nats://b:4222" });
    expect(env.CONCLAVE_NATS_URLS).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(env.CONCLAVE_PORT).toBe(7420);
    expect(env.CONCLAVE_AUTH_MODE).toBe("enforce");
  });

  it("a bad value fails fast naming the variable", () => {
    expect(() => loadServiceEnv({ CONCLAVE_NATS_URLS: "nats://a", CONCLAVE_PORT: "http" })).toThrow(/CONCLAVE_PORT/);
    expect(() => loadServiceEnv({ CONCLAVE_NATS_URLS: "nats://a", CONCLAVE_AUTH_MODE: "maybe" })).toThrow(
      /CONCLAVE_AUTH_MODE/,
    );
    expect(() => loadServiceEnv({})).toThrow(/CONCLAVE_NATS_URLS/);
    expect(() => loadServiceEnv({ CONCLAVE_NATS_URLS: "http://x" })).toThrow(/CONCLAVE_NATS_URLS/);
  });

  it("CONCLAVE_PUBLIC_URL is an origin: its scheme and authority, the default port dropped", () => {
    const base = { CONCLAVE_NATS_URLS: "nats://a" };
    expect(loadServiceEnv(base).CONCLAVE_PUBLIC_URL).toBeUndefined();
    expect(
      loadServiceEnv({ ...base, CONCLAVE_PUBLIC_URL: "https://Conclave.example:443" }).CONCLAVE_PUBLIC_URL,
    ).toEqual({
      scheme: "https",
      authority: "conclave.example",
    });
    for (const bad of ["ftp://x", "https://x/api", "https://x/?a=1", "not a url"]) {
      expect(() => loadServiceEnv({ ...base, CONCLAVE_PUBLIC_URL: bad })).toThrow(/CONCLAVE_PUBLIC_URL/);
    }
  });

  it("knows loopback binds", () => {
    expect(isLoopbackHost("127.0.0.1")).toBe(true);
    expect(isLoopbackHost("::1")).toBe(true);
    expect(isLoopbackHost("0.0.0.0")).toBe(false);
    expect(isLoopbackHost("10.0.0.5")).toBe(false);
  });

  it("NATS credentials: an inline seed or a file, never both, and nothing that is not a user seed", () => {
    const seed = `SU${"A".repeat(56)}`;
    const base = { CONCLAVE_NATS_URLS: "nats://a:4222" };
    // Neither: refused at start with what to set, not at connect.
    expect(() => natsAuthenticator(loadServiceEnv(base))).toThrow(/CONCLAVE_NATS_SEED_FILE: required/);
    expect(() => loadServiceEnv({ ...base, CONCLAVE_NATS_SEED: "SAxyz" })).toThrow(/CONCLAVE_NATS_SEED/);
    const dir = mkdtempSync(join(tmpdir(), "seed-"));
    const good = join(dir, "good.nk");
    const bad = join(dir, "bad.nk");
    writeFileSync(good, `${seed}\n`);
    writeFileSync(bad, "not a seed");
    expect(natsAuthenticator(loadServiceEnv({ ...base, CONCLAVE_NATS_SEED_FILE: good }))).toBeTypeOf("function");
    for (const env of [
      { CONCLAVE_NATS_SEED_FILE: bad },
      { CONCLAVE_NATS_SEED_FILE: join(dir, "missing.nk") },
      { CONCLAVE_NATS_SEED_FILE: good, CONCLAVE_NATS_SEED: seed },
    ]) {
      expect(() => natsAuthenticator(loadServiceEnv({ ...base, ...env }))).toThrow(/CONCLAVE_NATS_SEED_FILE/);
    }
  });
});
