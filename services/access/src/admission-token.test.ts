import { generateIdentity } from "@conclave/auth";
import { createAccount, createServer, createUser } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { accessEnvSchema } from "./access-config.ts";
import { decideAdmission } from "./admission.ts";
import { answerWithin, encodeAnswer } from "./admission-token.ts";
import type { MemberRoom } from "./bot-permissions.ts";
import type { CalloutRequest } from "./callout-request.ts";
import { IssuerKey } from "./issuer-key.ts";
import { userRecordOf } from "./user-record.fixture.ts";

// What the admission token can carry (issue 18 item 3): bytes of the callout's answer per room,
// against max_payload (1 MiB by default), for room subjects of today's shape and of the longest allowed.

const MiB = 1024 * 1024;
const bot = generateIdentity({ name: "bot", tenant: "acme", url: "http://127.0.0.1" });
const issuer = IssuerKey.fromSeed(new TextDecoder().decode(createAccount().getSeed()));
const request: CalloutRequest = {
  serverId: createServer().getPublicKey(),
  serverName: "n1",
  cid: 7,
  userNkey: createUser().getPublicKey(),
  nonce: "Xk3_9aQ-2Lm0ZpR",
  clientNkey: "unused",
  clientSig: "unused",
  clientName: "bot",
  clientHost: "127.0.0.1",
};
const user = userRecordOf(bot);
const DEFAULT_MAX_ROOMS = accessEnvSchema.parse({}).CONCLAVE_ACCESS_MAX_ROOMS;
const policy = { ttlS: 600, maxRooms: 100_000, limits: { subs: 256, payload: MiB, data: 64 * MiB } };

/** Today's default subject: conclave.room.<tenant>.<id>, a 16-character id as POST /v1/rooms draws it. */
const usual = (i: number) => `conclave.room.acme-fleet.${i.toString(36).padStart(16, "r")}`;
/** The longest subject the rooms decider lets a room have: 256 characters. */
const longest = (i: number) => {
  const head = `conclave.room.acme.${i.toString(36).padStart(6, "r")}`;
  const tokens = [];
  while (head.length + (tokens.length + 1) * 64 < 256) tokens.push("x".repeat(63));
  const s = [head, ...tokens].join(".");
  return `${s}.${"y".repeat(256 - s.length - 1)}`;
};
const roomsOf = (n: number, subject: (i: number) => string): MemberRoom[] =>
  Array.from({ length: n }, (_, i) => ({ id: `r${i}`, subject: subject(i) }));
const answerBytes = async (rooms: MemberRoom[]) => {
  const decision = decideAdmission({ signPub: bot.signPublicKey, user, rooms }, policy, 1_800_000_000);
  return Buffer.byteLength(await encodeAnswer(request, decision, issuer, "BOTS"));
};

describe("the admission token's size", () => {
  it(`at the default bound (${DEFAULT_MAX_ROOMS} rooms) the answer fits 1 MiB even with the longest subjects`, async () => {
    expect(longest(0)).toHaveLength(256);
    const none = await answerBytes([]);
    const lines = [];
    for (const [name, subject] of [
      ["usual", usual],
      ["longest", longest],
    ] as const) {
      const bytes = await answerBytes(roomsOf(DEFAULT_MAX_ROOMS, subject));
      const perRoom = (bytes - none) / DEFAULT_MAX_ROOMS;
      lines.push(
        `${name} subject (${subject(0).length} chars): ${perRoom.toFixed(0)} B/room, ` +
          `${bytes} B at ${DEFAULT_MAX_ROOMS} rooms, 1 MiB holds ${Math.floor((MiB - none) / perRoom)} rooms`,
      );
      expect(bytes).toBeLessThan(MiB);
    }
    console.log(`callout answer with no room: ${none} B\n${lines.join("\n")}`);
  });

  it("an answer over the connection's max_payload becomes a refusal (too_many_rooms), which is sent", async () => {
    const rooms = roomsOf(100, usual);
    const decision = decideAdmission({ signPub: bot.signPublicKey, user, rooms }, policy, 1_800_000_000);
    const bytes = await answerBytes(rooms);
    const fits = await answerWithin(request, decision, issuer, "BOTS", bytes);
    expect(fits.decision.admitted).toBe(true);
    expect(Buffer.byteLength(fits.answer)).toBe(bytes);
    const over = await answerWithin(request, decision, issuer, "BOTS", bytes - 1);
    expect(over.decision).toMatchObject({ admitted: false, reason: "too_many_rooms" });
    expect(Buffer.byteLength(over.answer)).toBeLessThan(bytes - 1);
  });
});
