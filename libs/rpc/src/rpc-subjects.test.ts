import { describe, expect, it } from "vitest";
import { RPC_SUBJECT_ROOT, rpcSubject } from "./rpc-subjects.ts";

describe("rpc subjects", () => {
  it("one subject per method, nothing that could be a wildcard", () => {
    expect(rpcSubject("echo.say")).toBe(`${RPC_SUBJECT_ROOT}.echo.say`);
    for (const bad of ["echo", "echo.*", "echo.>", "Echo.say", "a..b", "a.b c", ""]) {
      expect(() => rpcSubject(bad)).toThrow();
    }
  });
});
