import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAccount, createUser } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { loadAccessConfig } from "./access-config.ts";

const seed = new TextDecoder().decode(createAccount().getSeed());

describe("access configuration", () => {
  it("applies defaults around the required issuer seed", () => {
    expect(loadAccessConfig({ CONCLAVE_ACCESS_ISSUER_SEED: seed })).toEqual({
      issuerSeed: seed,
      account: "BOTS",
      queue: "conclave-access",
      ttlS: 600,
      decisionMs: 1_500,
      maxInflight: 32,
      maxQueued: 64,
      maxRooms: 1_024,
      limits: { subs: 2_048, payload: 1_048_576, data: 67_108_864 },
    });
  });

  it("reads the seed from a file; a bad value fails fast naming the variable", () => {
    const dir = mkdtempSync(join(tmpdir(), "access-"));
    const file = join(dir, "issuer.nk");
    writeFileSync(file, `${seed}\n`);
    expect(loadAccessConfig({ CONCLAVE_ACCESS_ISSUER_SEED_FILE: file }).issuerSeed).toBe(seed);
    const userSeed = new TextDecoder().decode(createUser().getSeed());
    writeFileSync(join(dir, "user.nk"), userSeed);
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{}, /CONCLAVE_ACCESS_ISSUER_SEED/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED: userSeed }, /CONCLAVE_ACCESS_ISSUER_SEED/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED_FILE: join(dir, "user.nk") }, /CONCLAVE_ACCESS_ISSUER_SEED_FILE/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED_FILE: join(dir, "none.nk") }, /CONCLAVE_ACCESS_ISSUER_SEED_FILE/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED: seed, CONCLAVE_ACCESS_ISSUER_SEED_FILE: file }, /SEED_FILE/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED: seed, CONCLAVE_ACCESS_TTL_S: "5" }, /CONCLAVE_ACCESS_TTL_S/],
      [{ CONCLAVE_ACCESS_ISSUER_SEED: seed, CONCLAVE_ACCESS_ACCOUNT: "a.b" }, /CONCLAVE_ACCESS_ACCOUNT/],
    ];
    for (const [env, message] of cases) expect(() => loadAccessConfig(env), JSON.stringify(env)).toThrow(message);
  });
});
