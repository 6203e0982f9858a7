import { type AccessConfig, accessMetrics, CalloutResponder, IssuerKey, loadAccessConfig } from "@conclave/access";
import type { UserRecord } from "@conclave/protocol";
import { eventually, useCluster } from "@conclave/testkit";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { identity } from "../support/membership-fixture.ts";
import { connectOutcome } from "./bot-probe.ts";

// A planned stop of a callout replica answers the callouts it has taken before its connection
// closes; otherwise those clients wait for the server's timeout and are refused.

describe("a callout replica stopping", () => {
  const nats = useCluster();
  const bot = identity("bot");

  it("answers the admissions in flight before it lets its connection go", async () => {
    const n = nats();
    const config: AccessConfig = loadAccessConfig({
      CONCLAVE_ACCESS_ISSUER_SEED: n.credentials.issuer,
      CONCLAVE_NATS_SYSTEM_SEED: n.credentials.system,
    });
    const nc = await connect({
      servers: n.urls,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(n.credentials.seeds.access)),
    });
    let entered = false;
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const user: UserRecord = {
      sign_pub: bot.signPublicKey,
      kex_pub: bot.kexPublicKey,
      tenant: "acme",
      role: "member",
      scopes: [],
      status: "active",
      created_at: new Date().toISOString(),
    };
    const responder = new CalloutResponder({
      nc,
      issuer: IssuerKey.fromSeed(config.issuerSeed),
      config,
      // The seam the store sits behind, held open so that the admission is in flight at the stop.
      sources: {
        user: async () => {
          entered = true;
          await held;
          return user;
        },
        roomsOf: async () => [],
        register: async () => {},
      },
      metrics: accessMetrics(new Registry()),
      logger: pino({ level: "silent" }),
    });
    responder.start();
    await nc.flush();
    const outcome = connectOutcome(bot, n.urls);
    await eventually(async () => expect(entered).toBe(true), 10_000, 10);
    const stopped = responder.stop();
    // The unsubscribe has reached the server (a round trip later); only then may the store answer.
    await nc.flush();
    release();
    await stopped;
    await nc.close();
    expect(await outcome).toBe("admitted");
  });
});
