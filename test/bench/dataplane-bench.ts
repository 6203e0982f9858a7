import { sign } from "node:crypto";
import { privateKeyObject, publicKeyOfUserNkey, toBase64url } from "@conclave/auth";
import { ConclaveClient, connectAsBot, createE2ERoom, inviteToE2ERoom, RoomChannel } from "@conclave/client";
import { NatsCluster } from "@conclave/testkit";
import type { Authenticator } from "@nats-io/nats-core";
import { fromSeed } from "@nats-io/nkeys";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startDataplaneCallout, startDataplaneMembership } from "../access/dataplane-hosts.ts";
import { identity, register } from "../support/membership-fixture.ts";
import { SECONDS, SMOKE } from "./bench-options.ts";
import { type Figure, load } from "./measure.ts";

const SECTION = "9 data plane (1 node)";
/** Connects at once while measuring admissions (each one a callout decision). */
const ADMIT_CONCURRENCY = 8;
const BATCH = 100;
const PAYLOAD = new Uint8Array(256);

/**
 * Section 9 (issue 14 item 6): admissions through the auth callout against a
 * static-nkey connect that never reaches it, and room publishing on a
 * bot's permission-restricted connection against the same publish on an
 * unrestricted services-account connection, on the data-plane server.
 */
export async function dataplaneBench(): Promise<Figure[]> {
  const nats = await NatsCluster.start();
  const membership = await startDataplaneMembership(nats);
  const callout = await startDataplaneCallout(nats);
  const open: NatsConnection[] = [];
  const channels: RoomChannel[] = [];
  const figures: Figure[] = [];
  try {
    const admin = identity("admin", "bench");
    const bots = Array.from({ length: SMOKE ? 10 : 100 }, (_, i) => identity(`bot${i}`, "bench"));
    await register(membership, admin, bots, true);
    const [alice, bob] = bots.map((b) => new ConclaveClient({ url: membership.url, identity: b }));
    if (!alice || !bob) throw new Error("no bots");
    const { room } = await createE2ERoom(alice, { id: "bench" });
    await inviteToE2ERoom(alice, room.id, { signPub: bob.identity.signPublicKey, kexPub: bob.identity.kexPublicKey });

    const servers = nats.urls;
    const authenticator = staticNkey(nats.credentials.seeds.operator);
    const raw = await load(async () => (await connect({ servers, authenticator, noAsyncTraces: true })).close(), {
      seconds: SECONDS,
      concurrency: ADMIT_CONCURRENCY,
      warmup: 5,
    });
    figures.push({ section: SECTION, name: `connect, static nkey (c=${ADMIT_CONCURRENCY})`, ...raw, note: "baseline" });
    const admit = await load(
      async (i) => (await connectAsBot(bots[Math.abs(i) % bots.length] ?? admin, { servers })).close(),
      { seconds: SECONDS, concurrency: ADMIT_CONCURRENCY, warmup: 5 },
    );
    figures.push({
      section: SECTION,
      name: `bot admission via callout (c=${ADMIT_CONCURRENCY})`,
      ...admit,
      ratio: admit.opsPerSec / raw.opsPerSec,
      note: `admissions/s; ${admit.errors} refused; user + rooms read + registration (the witness) + signed answer`,
    });

    // Publishing: the same batch on each connection, with a subscriber so the server delivers it.
    const botNc = await connectAsBot(alice.identity, { servers });
    const botSub = await connectAsBot(bob.identity, { servers });
    const svc = membership.ctx.store.conn.nc;
    const svcSub = await connect({ servers, authenticator, noAsyncTraces: true });
    open.push(botNc, botSub, svcSub);
    const unrestricted = "bench.dataplane.raw";
    botSub.subscribe(room.subject, { callback: () => {} });
    svcSub.subscribe(unrestricted, { callback: () => {} });
    await Promise.all([botSub.flush(), svcSub.flush()]);
    const batch =
      (nc: NatsConnection, subject: string, n = BATCH) =>
      async () => {
        for (let i = 0; i < n; i++) nc.publish(subject, PAYLOAD);
        await nc.flush();
      };
    const opts = { seconds: SECONDS, concurrency: 1 };
    const perMsg = (r: Awaited<ReturnType<typeof load>>) => ({ ...r, opsPerSec: r.opsPerSec * BATCH });
    const rawPub = perMsg(await load(batch(svc, unrestricted), opts));
    figures.push({
      section: SECTION,
      name: `publish ${PAYLOAD.length} B, unrestricted services user`,
      ...rawPub,
      note: `msgs/s; p50/p99 of ${BATCH}-message batches; baseline`,
    });
    const botPub = perMsg(await load(batch(botNc, room.subject), opts));
    figures.push({
      section: SECTION,
      name: `publish ${PAYLOAD.length} B, bot restricted to its rooms`,
      ...botPub,
      ratio: botPub.opsPerSec / rawPub.opsPerSec,
      note: `msgs/s; p50/p99 of ${BATCH}-message batches`,
    });
    const [aliceCh, bobCh] = await Promise.all([alice, bob].map((c) => RoomChannel.join(c, room.id, { servers })));
    if (!aliceCh || !bobCh) throw new Error("no channels");
    channels.push(aliceCh, bobCh);
    await bobCh.subscribe(() => {});
    const sealed = await load(() => aliceCh.publish(PAYLOAD), opts);
    const single = await load(batch(botNc, room.subject, 1), opts);
    figures.push({
      section: SECTION,
      name: "publish + flush, one message, bot connection",
      ...single,
      note: "baseline",
    });
    figures.push({
      section: SECTION,
      name: "RoomChannel.publish (seal, sign, seq) + flush",
      ...sealed,
      ratio: sealed.opsPerSec / single.opsPerSec,
      note: `${sealed.errors} errors`,
    });
  } finally {
    await Promise.all(channels.map((c) => c.close()));
    await Promise.all(open.map((nc) => nc.close()));
    await callout.close();
    await membership.close();
    await nats.stop();
  }
  return figures;
}

/**
 * The services user's nkey login, signing the nonce with node:crypto as the bot does: the
 * baseline differs from an admission only by the callout (nats.js' own nkeyAuthenticator signs
 * with pure-JS tweetnacl, ~35 ms a nonce here, which would hide the callout's cost).
 */
function staticNkey(seed: string): Authenticator {
  const kp = fromSeed(new TextEncoder().encode(seed));
  const nkey = kp.getPublicKey();
  const pub = publicKeyOfUserNkey(nkey);
  if (!pub) throw new Error("not a user seed");
  // The key pair class has getRawSeed; its published interface does not declare it.
  const raw = (kp as unknown as { getRawSeed(): Uint8Array }).getRawSeed();
  const key = privateKeyObject(new Uint8Array([...raw, ...pub]));
  return (nonce?: string) => ({ nkey, sig: toBase64url(sign(null, Buffer.from(nonce ?? ""), key)) });
}
