import type { Principal } from "@conclave/auth";
import { describe, expect, it } from "vitest";
import { mayUseBlobs } from "./blob-access.ts";
import { objectName } from "./blob-address.ts";

const member = (scopes: string[]): Principal => ({
  signPub: "k",
  kexPub: "x",
  tenant: "acme",
  role: "member",
  scopes,
  status: "active",
});

describe("blob access", () => {
  it("members need the action's scope; admins may; revoked users may not", () => {
    expect(mayUseBlobs(member(["blobs:read"]), "read")).toBe(true);
    expect(mayUseBlobs(member(["blobs:read"]), "write")).toBe(false);
    expect(mayUseBlobs(member(["blobs:write"]), "write")).toBe(true);
    expect(mayUseBlobs({ ...member([]), role: "admin" }, "write")).toBe(true);
    expect(mayUseBlobs({ ...member(["blobs:read"]), status: "revoked" }, "read")).toBe(false);
  });

  it("the same bytes get a different object name in each tenant", () => {
    const sha = "a".repeat(64);
    expect(objectName("acme", sha)).not.toBe(objectName("globex", sha));
  });
});
