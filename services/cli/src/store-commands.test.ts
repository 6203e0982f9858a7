import type { EventLog, Store } from "@conclave/store";
import { describe, expect, it } from "vitest";
import { rebuild } from "./store-commands.ts";

describe("projection names from the command line", () => {
  it.each(["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"])(
    "`events rebuild %s` names no projection",
    async (name) => {
      await expect(rebuild({} as Store, {} as EventLog, name)).rejects.toThrow(
        `unknown projection ${name} (known: users, rooms)`,
      );
    },
  );
});
