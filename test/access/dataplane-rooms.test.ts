import { createAccessModule, loadAccessConfig, storeRoomsOfMember } from "@conclave/access";
import { ConclaveClient } from "@conclave/client";
import { membershipModule, roomCommands, userCommands } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost, toPrincipal } from "@conclave/runtime";
import type { Store } from "@conclave/store";
import { eventually, useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { connectBot, connectOutcome, subscribeRefused } from "./bot-probe.ts";
import { calloutEnv, startDataplaneMembership } from "./dataplane-hosts.ts";

// Issue 18 item 3: a bot in 1,000 rooms lists them page by page and is admitted by the callout
// into every one of them, against a real nats-server; one room past CONCLAVE_ACCESS_MAX_ROOMS
// (set to 1,000 here so the bound is crossed by one room) and it is refused.

const ROOMS = 1_000;

describe(`a bot in ${ROOMS} rooms`, () => {
  const nats = useCluster();
  let membership: Host;
  let callout: Host;
  const admin = identity("admin");
  const bot = identity("fleet-bot");
  const subjectOf = (i: number) => `conclave.room.${bot.tenant}.room-${i}`;

  const longBot = identity("long-bot");
  /** The longest subject a room may have (256 characters): the largest admission per room. */
  const longSubjectOf = (i: number) => {
    const own = `conclave.room.${longBot.tenant}.long-${i}`;
    const tokens = [own];
    while (tokens.join(".").length + 65 <= 256) tokens.push("x".repeat(64));
    const s = tokens.join(".");
    return `${s}.${"y".repeat(256 - s.length - 1)}`;
  };

  const createRooms = async (owner: typeof bot, from: number, to: number, subject?: (i: number) => string) => {
    const user = await userCommands(membership.ctx).get(owner.signPublicKey);
    if (!user) throw new Error("no bot");
    const rooms = roomCommands(membership.ctx);
    const ids = Array.from({ length: to - from }, (_, i) => from + i);
    const id = (n: number) => (subject ? `long-${n}` : `room-${n}`);
    // Rooms are separate aggregates: a few created at once.
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(
        ids
          .slice(i, i + 8)
          .map((n) =>
            rooms.create(toPrincipal(user), { id: id(n), mode: "clear", ...(subject ? { subject: subject(n) } : {}) }),
          ),
      );
    }
  };

  beforeAll(async () => {
    const n = nats();
    membership = await startDataplaneMembership(n);
    const accessEnv = calloutEnv(n, { CONCLAVE_ACCESS_MAX_ROOMS: String(ROOMS) });
    callout = await startHost({
      env: loadServiceEnv(accessEnv),
      modules: [createAccessModule({ config: loadAccessConfig(accessEnv) })],
    });
    await register(membership, admin, [bot, longBot], true);
    const started = performance.now();
    await createRooms(bot, 0, ROOMS);
    console.log(`${ROOMS} rooms created: ${(performance.now() - started).toFixed(0)} ms`);
  }, 180_000);
  afterAll(async () => {
    await callout?.close();
    await membership?.close();
  });

  it("GET /v1/me/rooms pages through all of them, each once", async () => {
    const client = new ConclaveClient({ url: membership.url, identity: bot });
    const pages = [];
    for await (const page of client.myRoomsPages({ limit: 100 })) pages.push(page.items.map((r) => r.subject));
    expect(pages.map((p) => p.length)).toEqual(Array(ROOMS / 100).fill(100));
    const subjects = new Set(pages.flat());
    expect(subjects.size).toBe(ROOMS);
    expect(subjects).toEqual(new Set(Array.from({ length: ROOMS }, (_, i) => subjectOf(i))));
  }, 60_000);

  it("the callout admits it into every room: it subscribes to all of them and hears the last", async () => {
    const started = performance.now();
    const b = await connectBot(bot, nats().urls);
    console.log(`admitted with ${ROOMS} rooms in ${(performance.now() - started).toFixed(0)} ms`);
    try {
      const heard: string[] = [];
      for (let i = 0; i < ROOMS; i++) b.nc.subscribe(subjectOf(i), { callback: (_e, m) => void heard.push(m.subject) });
      await b.nc.flush();
      b.nc.publish(subjectOf(ROOMS - 1), "last");
      b.nc.publish(subjectOf(0), "first");
      await eventually(
        async () => expect(heard.sort()).toEqual([subjectOf(0), subjectOf(ROOMS - 1)].sort()),
        5_000,
        20,
      );
      expect(b.violations).toEqual([]);
      expect(await subscribeRefused(b, `conclave.room.${bot.tenant}.room-${ROOMS}`)).toBe(true);
    } finally {
      await b.nc.close();
    }
  }, 60_000);

  it(`one room more than CONCLAVE_ACCESS_MAX_ROOMS (${ROOMS}) and the callout refuses it`, async () => {
    await createRooms(bot, ROOMS, ROOMS + 1);
    expect(await connectOutcome(bot, nats().urls)).toMatch(/authoriz/i);
    const metrics = await (await fetch(`${callout.url}/metrics`)).text();
    expect(metrics).toMatch(/conclave_access_decisions_total\{outcome="too_many_rooms"\} [1-9]/);
  }, 60_000);

  it("the callout's room read stops once the bot is known to be past the bound", async () => {
    // The rooms table of the host's store, its gets counted.
    const store = membership.ctx.store;
    let gets = 0;
    const counted = {
      table: (name: string, schema: unknown) => {
        const table = store.table(name as "rooms", schema as never);
        if (name !== "rooms") return table;
        return new Proxy(table, {
          get: (target, prop, receiver) =>
            prop === "get"
              ? (key: string) => {
                  gets++;
                  return target.get(key);
                }
              : Reflect.get(target, prop, receiver),
        });
      },
    } as unknown as Store;
    const roomsOf = storeRoomsOfMember(counted);
    expect(await roomsOf(bot.signPublicKey, 10)).toHaveLength(11);
    expect(gets).toBeLessThanOrEqual(256);
    gets = 0;
    expect(await roomsOf(bot.signPublicKey)).toHaveLength(ROOMS + 1);
    expect(gets).toBe(ROOMS + 1);
  }, 60_000);

  it(`with the longest subjects (256 chars) in all ${ROOMS} rooms, nats-server takes the ~0.9 MB answer`, async () => {
    expect(longSubjectOf(0)).toHaveLength(256);
    await createRooms(longBot, 0, ROOMS, longSubjectOf);
    // 2,006 B + 889 B a room (services/access/src/admission-token.test.ts): ≈ 891 KB of the 1 MiB.
    const b = await connectBot(longBot, nats().urls);
    try {
      const heard: string[] = [];
      b.nc.subscribe(longSubjectOf(ROOMS - 1), { callback: (_e, m) => void heard.push(m.string()) });
      await b.nc.flush();
      b.nc.publish(longSubjectOf(ROOMS - 1), "the last room");
      await eventually(async () => expect(heard).toEqual(["the last room"]), 5_000, 20);
      expect(b.violations).toEqual([]);
    } finally {
      await b.nc.close();
    }
  }, 120_000);
});
