import { ConnectionKicker } from "@conclave/access";
import type { KeyFile } from "@conclave/auth";
import { BotLink, connectAsBot } from "@conclave/client";
import { userCommands } from "@conclave/membership";
import type { Host } from "@conclave/runtime";
import { eventually, useCluster } from "@conclave/testkit";
import { AuthorizationError, connect, type NatsConnection, nkeyAuthenticator } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { startDataplaneCallout, startDataplaneMembership } from "./dataplane-hosts.ts";

// A bot's first connect against a 3-node cluster with the servers' gossip on (what SDK users get):
// a refused key must be told so promptly, while an admitted bot still reconnects through refusals.
// nats.js drops a refused server from its pool on a first connect, but each INFO's connect_urls put
// it back, so without a final refusal the connect never ended (>20 s here; ~0.1 s without gossip).

/** Generous for a callout round trip or two on a loaded 2-core machine; the hang was unbounded. */
const BOUND_MS = 3_000;

/** How `attempt` ended and how long it took; a connect still pending at the bound counts as hung. */
async function timed(attempt: () => Promise<{ close(): Promise<void> }>) {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((r) => {
    timer = setTimeout(() => r("hung"), BOUND_MS * 2);
  });
  const outcome = await Promise.race([
    attempt().then(
      async (c) => {
        await c.close();
        return "admitted" as const;
      },
      (err: unknown) => err,
    ),
    hung,
  ]);
  clearTimeout(timer);
  return { outcome, ms: performance.now() - t0 };
}

describe("a bot's first connect to a 3-node cluster, gossip on", () => {
  const nats = useCluster({ nodes: 3 });
  let membership: Host;
  let callout: Host | undefined;
  let system: NatsConnection;
  const admin = identity("admin");
  const [alice, carol, mallory] = ["alice", "carol", "mallory"].map((n) => identity(n));
  if (!alice || !carol || !mallory) throw new Error("identities");

  beforeAll(async () => {
    const n = nats();
    membership = await startDataplaneMembership(n);
    callout = await startDataplaneCallout(n);
    await register(membership, admin, [alice, carol], true);
    await userCommands(membership.ctx).revoke(
      { signPub: admin.signPublicKey, role: "operator", tenant: admin.tenant },
      carol.signPublicKey,
    );
    system = await connect({
      servers: n.urls,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(n.credentials.system)),
    });
  });
  afterAll(async () => {
    await system?.close();
    await callout?.close();
    await membership?.close();
  });

  const refused: [string, () => KeyFile, (urls: string[]) => string[]][] = [
    ["an unregistered key, every URL given", () => mallory, (urls) => urls],
    ["a revoked user, every URL given", () => carol, (urls) => urls],
    ["an unregistered key, one seed URL (the others from gossip)", () => mallory, (urls) => urls.slice(0, 1)],
  ];
  for (const [who, key, servers] of refused) {
    it(`${who}: connectAsBot rejects within ${BOUND_MS} ms with an authorization error`, async () => {
      const { outcome, ms } = await timed(() =>
        connectAsBot(key(), { servers: servers(nats().urls), timeout: 10_000 }),
      );
      expect(outcome).toBeInstanceOf(AuthorizationError);
      expect((outcome as Error).message).toMatch(/authoriz/i);
      expect(ms).toBeLessThan(BOUND_MS);
    });
  }

  it("BotLink.open (what RoomChannel uses) of a refused key rejects promptly too", async () => {
    const { outcome, ms } = await timed(() => BotLink.open(mallory, { servers: nats().urls, timeout: 10_000 }));
    expect(outcome).toBeInstanceOf(AuthorizationError);
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it("an admitted bot kicked while the callout is down keeps reconnecting, and is back when it returns", {
    timeout: 60_000,
  }, async () => {
    const nc = await connectAsBot(alice, { servers: nats().urls, timeout: 10_000, reconnectTimeWait: 200 });
    const refusals: AuthorizationError[] = [];
    let reconnects = 0;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "error" && s.error instanceof AuthorizationError) refusals.push(s.error);
        if (s.type === "reconnect") reconnects++;
      }
    })();
    try {
      await callout?.close();
      callout = undefined;
      const kicker = new ConnectionKicker({ system, account: "BOTS", stallMs: 300, timeoutMs: 5_000 });
      expect((await kicker.kick(alice.signPublicKey)).kicked).toBe(1);
      // Nobody answers the callout: each reconnect is refused, on every server, more than twice.
      await eventually(async () => expect(refusals.length).toBeGreaterThanOrEqual(4), 30_000, 100);
      expect(nc.isClosed()).toBe(false);
      callout = await startDataplaneCallout(nats());
      // nats.js reports "reconnect" once per attempt of the loop that ended, hence at least one.
      await eventually(async () => expect(reconnects).toBeGreaterThanOrEqual(1), 30_000, 100);
      await nc.flush();
    } finally {
      await nc.close();
    }
  });
});
