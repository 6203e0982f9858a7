import { blobModule } from "@conclave/blob";
import { gatewayModule } from "@conclave/gateway";
import { membershipModule } from "@conclave/membership";
import type { EventLog, Store } from "@conclave/store";
import { describe, expect, it } from "vitest";
import { PROJECTIONS, rebuild } from "./store-commands.ts";

describe("the CLI's projections", () => {
  it("are every service module's, by name (revocations included)", () => {
    const fromModules = [membershipModule, gatewayModule, blobModule].flatMap((m) => m.projections.map((p) => p.name));
    expect([...PROJECTIONS.keys()].sort()).toEqual(fromModules.sort());
    expect([...PROJECTIONS.keys()]).toContain("revocations");
  });
});

describe("projection names from the command line", () => {
  it.each(["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"])(
    "`events rebuild %s` names no projection",
    async (name) => {
      await expect(rebuild({} as Store, {} as EventLog, name)).rejects.toThrow(
        `unknown projection ${name} (known: ${[...PROJECTIONS.keys()].join(", ")})`,
      );
    },
  );
});
