import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { StoreConnection } from "./connection.ts";
import { EventLog } from "./event-log.ts";

const PROTOTYPE_KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

describe("event types read from the log", () => {
  const log = new EventLog({} as StoreConnection, { "user.added": z.object({ name: z.string() }) }, { opTimeoutMs: 1 });
  const envelope = (type: string) => ({
    v: 1,
    id: "e1",
    type,
    aggregate: { type: "user", id: "u" },
    actor: "system",
    at: "2026-12-02T00:00:00.000Z",
    prev: 0,
    data: { name: "n" },
  });

  it.each(PROTOTYPE_KEYS)("a stored event of type %s is unknown, never a prototype member", (type) => {
    expect(() => log.parse(envelope(type), 7)).toThrow(`unknown event type ${type} at seq 7`);
  });

  it("a known type is parsed against its schema", () => {
    expect(log.parse(envelope("user.added"), 1)).toMatchObject({ type: "user.added", data: { name: "n" }, seq: 1 });
  });
});
