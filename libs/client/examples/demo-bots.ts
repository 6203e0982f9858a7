// Two demo bots, alice and bob, against a running Conclave (`npm start`):
// they register, find each other through a room, exchange end-to-end encrypted
// messages and a blob, and rotate the room key after a third member leaves.
// Run: npm run demo   (uses .conclave/admin.key.json to register the bots)
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  ConclaveClient,
  ConclaveError,
  connectAsBot,
  createE2ERoom,
  generateIdentity,
  inviteToE2ERoom,
  type KeyFile,
  RoomChannel,
  type RoomMessage,
  readKeyFile,
  writeKeyFile,
} from "../src/index.ts";

const dataDir = process.env.CONCLAVE_DATA_DIR ?? join(process.cwd(), ".conclave");
const natsUrl = process.env.CONCLAVE_NATS_URL ?? "nats://127.0.0.1:4222";
const say = (who: string, line: string) => console.log(`${who.padEnd(6)}| ${line}`);

async function bot(admin: ConclaveClient, name: string): Promise<ConclaveClient> {
  const path = join(dataDir, "demo", `${name}.key.json`);
  if (!existsSync(path))
    await writeKeyFile(path, generateIdentity({ name, tenant: admin.identity.tenant, url: admin.identity.url }));
  const identity: KeyFile = await readKeyFile(path);
  try {
    await admin.addUser({
      sign_pub: identity.signPublicKey,
      kex_pub: identity.kexPublicKey,
      tenant: identity.tenant,
      role: "member",
      name,
    });
    say(name, `registered (${identity.signPublicKey.slice(0, 12)}…)`);
  } catch (err) {
    if (!(err instanceof ConclaveError && err.code === "conflict")) throw err;
    say(name, "already registered");
  }
  return new ConclaveClient({ identity });
}

/** Subscribes a bot to the room; returns a function that waits for a message matching a predicate. */
function inbox(channel: RoomChannel, who: string) {
  const received: RoomMessage[] = [];
  channel.subscribe(
    (m) => {
      received.push(m);
      if (m.from !== channel.client.identity.signPublicKey) say(who, `got (epoch ${m.epoch}) "${m.text()}"`);
    },
    (why) => say(who, `dropped a message: ${why}`),
  );
  return async (match: (m: RoomMessage) => boolean): Promise<RoomMessage> => {
    for (let i = 0; i < 100; i++) {
      const found = received.find(match);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${who} did not receive the expected message`);
  };
}

const admin = new ConclaveClient({ identity: await readKeyFile(join(dataDir, "admin.key.json")) });
const [alice, bob, carol] = [await bot(admin, "alice"), await bot(admin, "bob"), await bot(admin, "carol")];
// Each bot is on NATS as itself (the auth callout admits it into its rooms, docs/dataplane.md); it connects
// once it is a member, since the admission fixes its permissions at connect.
const connections: { close(): Promise<void>; flush(): Promise<void> }[] = [];
try {
  // alice opens a room and invites bob and carol, sealing the key to their kex keys.
  const { room } = await createE2ERoom(alice, { id: `demo-${Date.now().toString(36)}` });
  say("alice", `created e2e room ${room.id} on ${room.subject}`);
  for (const m of [bob, carol]) {
    await inviteToE2ERoom(alice, room.id, { signPub: m.identity.signPublicKey, kexPub: m.identity.kexPublicKey });
    say("alice", `invited ${m.identity.name}`);
  }

  // bob finds the room by discovery, not by being told its id.
  const found = (await bob.myRooms()).find((r) => r.id === room.id);
  if (!found) throw new Error("bob cannot discover the room");
  say("bob", `discovered ${found.id} (role ${found.role}, epoch ${found.epoch})`);

  const [aliceCh, bobCh, carolCh] = await Promise.all(
    [alice, bob, carol].map(async (c) => {
      const nc = await connectAsBot(c.identity, { servers: natsUrl, timeout: 10_000 });
      connections.push(nc);
      return RoomChannel.join(c, room.id, nc);
    }),
  );
  if (!aliceCh || !bobCh || !carolCh) throw new Error("join failed");
  const bobInbox = inbox(bobCh, "bob");
  const aliceInbox = inbox(aliceCh, "alice");
  inbox(carolCh, "carol");
  // Three connections now: each one's subscription must reach the server before anyone publishes.
  await Promise.all(connections.map((nc) => nc.flush()));

  const fromAlice = (m: RoomMessage) => m.from === alice.identity.signPublicKey;
  await aliceCh.publish("hello bob, this is end-to-end encrypted");
  await bobInbox((m) => fromAlice(m) && m.text().startsWith("hello"));
  await bobCh.publish("hi alice, read you");
  await aliceInbox((m) => m.from === bob.identity.signPublicKey);

  // A blob: uploaded by alice (hashed client-side, streamed), announced in the room, fetched and verified by bob.
  const blob = new TextEncoder().encode(`a blob from alice at ${new Date().toISOString()}\n`.repeat(1000));
  const put = await alice.putBlob(blob);
  say("alice", `uploaded blob ${put.sha256.slice(0, 16)}… (${put.size} bytes, ${put.created ? "new" : "dedup"})`);
  await aliceCh.publish(`blob:${put.sha256}`);
  const announced = (await bobInbox((m) => fromAlice(m) && m.text().startsWith("blob:"))).text();
  const fetched = await bob.getBlobBytes(announced.slice("blob:".length));
  say(
    "bob",
    `downloaded and verified the blob: ${fetched.byteLength} bytes, identical: ${Buffer.from(fetched).equals(Buffer.from(blob))}`,
  );

  // carol leaves; alice rotates the key; carol can no longer read.
  await carol.removeMember(room.id, carol.identity.signPublicKey);
  say("carol", "left the room");
  const epoch = await aliceCh.rotate();
  say("alice", `rotated the room key to epoch ${epoch}`);
  await aliceCh.publish("after the rotation: only bob and I can read this");
  const last = await bobInbox((m) => fromAlice(m) && m.epoch === epoch);
  say("bob", `read it at epoch ${last.epoch}`);
  console.log("demo complete");
} finally {
  await Promise.all(connections.map((nc) => nc.close()));
}
