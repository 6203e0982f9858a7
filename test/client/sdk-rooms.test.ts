import { setTimeout as sleep } from "node:timers/promises";
import {
  ConclaveClient,
  ConclaveError,
  createE2ERoom,
  inviteToE2ERoom,
  RoomChannel,
  type RoomMessage,
} from "@conclave/client";
import { membershipModule } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startDataplaneCallout } from "../access/dataplane-hosts.ts";
import { identity, register } from "../support/membership-fixture.ts";

describe("SDK: e2e rooms over NATS with key rotation", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  let callout: Host;
  const admin = identity("admin");
  const alice = identity("alice");
  const bob = identity("bob");
  const carol = identity("carol");

  beforeAll(async () => {
    host = await startHost({
      env: loadServiceEnv({
        ...cluster().serviceEnv("membership"),
        CONCLAVE_REPLICAS: "1",
        CONCLAVE_PORT: "0",
        CONCLAVE_LOG_LEVEL: "warn",
      }),
      modules: [membershipModule],
    });
    await register(host, admin, [], true);
    // Bots reach NATS only through the auth callout (the harness's accounts, docs/dataplane.md).
    callout = await startDataplaneCallout(cluster());
    const adminClient = new ConclaveClient({ url: host.url, identity: admin });
    for (const k of [alice, bob, carol]) {
      await adminClient.addUser({
        sign_pub: k.signPublicKey,
        kex_pub: k.kexPublicKey,
        tenant: "acme",
        role: "member",
        name: k.name,
      });
    }
  });
  afterAll(async () => {
    await callout?.close();
    await host?.close();
  });

  it("members exchange signed, encrypted messages; after a member leaves and the key rotates it reads nothing more", async () => {
    const a = new ConclaveClient({ url: host.url, identity: alice });
    const b = new ConclaveClient({ url: host.url, identity: bob });
    const c = new ConclaveClient({ url: host.url, identity: carol });
    const { room } = await createE2ERoom(a, { id: "demo" });
    for (const k of [bob, carol])
      await inviteToE2ERoom(a, room.id, { signPub: k.signPublicKey, kexPub: k.kexPublicKey });
    expect((await b.myRooms()).map((r) => r.id)).toEqual(["demo"]);

    // Each bot on its own key through the callout; the data-plane rules are proven in test/access/room-channel.test.ts.
    const channels = await Promise.all(
      [a, b, c].map((cl) => RoomChannel.join(cl, "demo", { servers: cluster().urls })),
    );
    onTestFinished(() => Promise.all(channels.map((ch) => ch.close())).then(() => {}));
    const [aliceCh, bobCh, carolCh] = channels;
    const got = { bob: [] as RoomMessage[], carol: [] as RoomMessage[] };
    const bobDropped: string[] = [];
    await bobCh?.subscribe(
      (m) => got.bob.push(m),
      (why) => bobDropped.push(why),
    );
    await carolCh?.subscribe((m) => got.carol.push(m));
    await aliceCh?.publish("hello, epoch 1");
    await eventually(async () => expect(got.bob.map((m) => m.text())).toEqual(["hello, epoch 1"]), 5_000, 50);
    expect(got.bob[0]?.from).toBe(alice.signPublicKey);

    await b.removeMember("demo", bob.signPublicKey); // bob leaves
    await expect(b.myKey("demo")).rejects.toMatchObject({ status: 404 });
    const epoch = await aliceCh?.rotate();
    expect(epoch).toBe(2);
    await aliceCh?.publish("after rotation");
    await eventually(
      async () => expect(got.carol.map((m) => m.text())).toEqual(["hello, epoch 1", "after rotation"]),
      5_000,
      50,
    );
    expect(got.carol[1]?.epoch).toBe(2);
    // Live disconnect: bob's connection is closed once his removal is committed, and the callout
    // re-admits him without the room, so his channel reports the removal instead of dropping envelopes.
    const removed = await Promise.race([bobCh?.removed, sleep(10_000).then(() => "not reported")]);
    expect(removed).toMatchObject({ reason: "permission_violation" });
    expect(got.bob).toHaveLength(1);
  });

  it("typed errors carry status, code and reason", async () => {
    const stranger = new ConclaveClient({ url: host.url, identity: identity("stranger"), attempts: 1 });
    const err = await stranger.myRooms().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConclaveError);
    expect(err).toMatchObject({ status: 401, code: "unauthorized", reason: "unknown_signer" });
  });
});
