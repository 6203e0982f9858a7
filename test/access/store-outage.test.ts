import { createAccessModule, loadAccessConfig } from "@conclave/access";
import { membershipModule } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { connectOutcome } from "./bot-probe.ts";

// Fail closed (SPEC §10): when the store cannot answer, the callout admits nobody, even a
// bot it admitted a moment ago. Three nodes; the survivor n1 keeps the callout and the bots.

describe("the callout when the store cannot answer", () => {
  const nats = useCluster({ nodes: 3 });
  let membership: Host;
  let callout: Host;
  const admin = identity("admin");
  const alice = identity("alice");

  const decisions = async (outcome: string) => {
    const text = await (await fetch(`${callout.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`conclave_access_decisions_total{outcome="${outcome}"}`));
    return Number(line?.split(" ")[1] ?? 0);
  };

  beforeAll(async () => {
    const n = nats();
    const env = (seed: string) => ({
      CONCLAVE_NATS_URLS: n.urls[0] as string,
      CONCLAVE_NATS_SEED: seed,
      CONCLAVE_REPLICAS: "3",
      CONCLAVE_OP_TIMEOUT_MS: "1000",
      CONCLAVE_LOG_LEVEL: "warn",
      CONCLAVE_PORT: "0",
    });
    membership = await startHost({
      env: loadServiceEnv(env(n.credentials.seeds.membership)),
      modules: [membershipModule],
    });
    const accessEnv = {
      ...env(n.credentials.seeds.access),
      CONCLAVE_ACCESS_ISSUER_SEED: n.credentials.issuer,
      CONCLAVE_NATS_SYSTEM_SEED: n.credentials.system,
    };
    callout = await startHost({
      env: loadServiceEnv(accessEnv),
      modules: [createAccessModule({ config: loadAccessConfig(accessEnv) })],
    });
    await register(membership, admin, [alice], true);
  });
  afterAll(async () => {
    await callout?.close();
    await membership?.close();
  });

  it("a member admitted a moment ago is refused once the store has lost its quorum", async () => {
    const n = nats();
    const survivor = [n.urls[0] as string];
    expect(await connectOutcome(alice, survivor)).toBe("admitted");
    const before = await decisions("store_unavailable");
    await Promise.all([n.nodes[1]?.kill(), n.nodes[2]?.kill()]);
    expect(await connectOutcome(alice, survivor)).toMatch(/authoriz/i);
    expect((await decisions("store_unavailable")) - before).toBe(1);
    expect(await decisions("admitted")).toBe(1);
  });
});
