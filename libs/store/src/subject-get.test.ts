import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { UnavailableError } from "./errors.ts";
import { getBySubject, subjectMatches } from "./subject-get.ts";

// The rule alone, on canned answers: a real server does not answer about another subject, which
// is why the rule exists (a listing once returned one user twice and missed one). The reads that
// use it are tested against real servers (kv-table, event-log, the listings).
const answering = (subject: string | null) => {
  const asked: unknown[] = [];
  const jsm = {
    streams: {
      getMessage: async (_stream: string, query: unknown) => {
        asked.push(query);
        return subject === null ? null : ({ subject, seq: 7 } as StoredMsg);
      },
    },
  } as unknown as JetStreamManager;
  return { jsm, asked };
};

describe("a read by subject", () => {
  it("takes an answer about its subject, or none", async () => {
    const { jsm, asked } = answering("$KV.users.alice");
    expect((await getBySubject(jsm, "KV_users", "$KV.users.alice"))?.seq).toBe(7);
    expect(await getBySubject(answering(null).jsm, "KV_users", "$KV.users.alice")).toBeNull();
    await getBySubject(jsm, "KV_users", "$KV.users.alice", 5);
    expect(asked).toEqual([{ last_by_subj: "$KV.users.alice" }, { seq: 5, next_by_subj: "$KV.users.alice" }]);
  });

  it("refuses an answer about another subject (fail closed)", async () => {
    const { jsm } = answering("$KV.users.mallory");
    await expect(getBySubject(jsm, "KV_users", "$KV.users.alice")).rejects.toBeInstanceOf(UnavailableError);
    await expect(getBySubject(jsm, "KV_rooms", "$KV.users.alice.*", 1)).rejects.toThrow(
      /answered \$KV\.users\.mallory/,
    );
  });

  it("matches wildcards by NATS's rules", () => {
    expect(subjectMatches("conclave.ev.room.>", "conclave.ev.room.acme.r1")).toBe(true);
    expect(subjectMatches("conclave.ev.room.>", "conclave.ev.room")).toBe(false);
    expect(subjectMatches("a.*.c", "a.b.c")).toBe(true);
    expect(subjectMatches("a.*.c", "a.b.c.d")).toBe(false);
    expect(subjectMatches("a.*.c", "a.b")).toBe(false);
    expect(subjectMatches("a.b", "a.bb")).toBe(false);
    expect(subjectMatches("bot.t.*", "bot.t.r1")).toBe(true);
  });
});
