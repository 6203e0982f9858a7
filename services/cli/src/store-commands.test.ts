import { blobModule } from "@conclave/blob";
import { gatewayModule } from "@conclave/gateway";
import { membershipModule } from "@conclave/membership";
import { describe, expect, it } from "vitest";
import { PROJECTIONS } from "./store-commands.ts";

describe("the CLI's projections", () => {
  it("are every service module's, by name (revocations included)", () => {
    const fromModules = [membershipModule, gatewayModule, blobModule].flatMap((m) => m.projections.map((p) => p.name));
    expect(Object.keys(PROJECTIONS).sort()).toEqual(fromModules.sort());
    expect(Object.keys(PROJECTIONS)).toContain("revocations");
  });
});
