import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAccount, createUser } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { loadAccessConfig } from "./access-config.ts";

const seed = new TextDecoder().decode(createAccount().getSeed());
const systemSeed = new TextDecoder().decode(createUser().getSeed());
const base = { CONCLAVE_ACCESS_ISSUER_SEED: seed, CONCLAVE_NATS_SYSTEM_SEED: systemSeed };

describe("access configuration", () => {
  it("applies defaults around the required issuer and system seeds", () => {
    expect(loadAccessConfig(base)).toEqual({
      issuerSeed: seed,
      account: "BOTS",
      queue: "conclave-access",
      ttlS: 600,
      decisionMs: 1_500,
      maxInflight: 32,
      maxQueued: 64,
      maxRooms: 1_024,
      limits: { subs: 2_048, payload: 1_048_576, data: 67_108_864 },
      liveDisconnect: { systemSeed, concurrency: 8, maxPending: 512, connzStallMs: 200 },
    });
  });

  it("live disconnect needs the system user's seed unless it is turned off", () => {
    expect(() => loadAccessConfig({ CONCLAVE_ACCESS_ISSUER_SEED: seed })).toThrow(/CONCLAVE_NATS_SYSTEM_SEED/);
    const off = { CONCLAVE_ACCESS_ISSUER_SEED: seed, CONCLAVE_ACCESS_LIVE_DISCONNECT: "off" };
    expect(loadAccessConfig(off).liveDisconnect).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "access-"));
    writeFileSync(join(dir, "system.nk"), `${systemSeed}\n`);
    writeFileSync(join(dir, "account.nk"), seed);
    const fromFile = { CONCLAVE_ACCESS_ISSUER_SEED: seed, CONCLAVE_NATS_SYSTEM_SEED_FILE: join(dir, "system.nk") };
    expect(loadAccessConfig(fromFile).liveDisconnect?.systemSeed).toBe(systemSeed);
    const cases: NodeJS.ProcessEnv[] = [
      { ...base, CONCLAVE_NATS_SYSTEM_SEED: seed },
      { ...base, CONCLAVE_NATS_SYSTEM_SEED_FILE: join(dir, "system.nk") },
      { CONCLAVE_ACCESS_ISSUER_SEED: seed, CONCLAVE_NATS_SYSTEM_SEED_FILE: join(dir, "account.nk") },
      { ...base, CONCLAVE_ACCESS_KICK_CONCURRENCY: "0" },
    ];
    for (const env of cases) expect(() => loadAccessConfig(env), JSON.stringify(env)).toThrow(/SYSTEM_SEED|KICK/);
  });

  it("reads the seed from a file; a bad value fails fast naming the variable", () => {
    const dir = mkdtempSync(join(tmpdir(), "access-"));
    const file = join(dir, "issuer.nk");
    writeFileSync(file, `${seed}\n`);
    const withSystem = { CONCLAVE_NATS_SYSTEM_SEED: systemSeed };
    expect(loadAccessConfig({ ...withSystem, CONCLAVE_ACCESS_ISSUER_SEED_FILE: file }).issuerSeed).toBe(seed);
    const userSeed = new TextDecoder().decode(createUser().getSeed());
    writeFileSync(join(dir, "user.nk"), userSeed);
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{}, /CONCLAVE_ACCESS_ISSUER_SEED/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED: userSeed }, /CONCLAVE_ACCESS_ISSUER_SEED/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED_FILE: join(dir, "user.nk") }, /CONCLAVE_ACCESS_ISSUER_SEED_FILE/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED_FILE: join(dir, "none.nk") }, /CONCLAVE_ACCESS_ISSUER_SEED_FILE/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED: seed, CONCLAVE_ACCESS_ISSUER_SEED_FILE: file }, /SEED_FILE/],
      [{ ...base, CONCLAVE_ACCESS_TTL_S: "5" }, /CONCLAVE_ACCESS_TTL_S/],
      [{ ...base, CONCLAVE_ACCESS_ACCOUNT: "a.b" }, /CONCLAVE_ACCESS_ACCOUNT/],
    ];
    for (const [env, message] of cases) expect(() => loadAccessConfig(env), JSON.stringify(env)).toThrow(message);
  });
});
