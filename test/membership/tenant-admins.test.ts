import type { KeyFile } from "@conclave/auth";
import { userCommands } from "@conclave/membership";
import type { Host } from "@conclave/runtime";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, startMembershipHost } from "../support/membership-fixture.ts";
import { signedFetch } from "../support/signed-client.ts";

// Issue 15, items 2 and 7: an admin rules its own tenant only, the operator every
// tenant; weak keys are refused at registration; old bootstrap admins become operators.

const asUser = (k: KeyFile, role: "operator" | "admin" | "member", tenant = k.tenant) => ({
  sign_pub: k.signPublicKey,
  kex_pub: k.kexPublicKey,
  tenant,
  role,
  scopes: [] as string[],
});
const hex = (h: string) => Buffer.from(h, "hex").toString("base64url");
const messageOf = (body: unknown) => (body as { error?: { message?: string } }).error?.message ?? "";

describe("tenant admins and the operator", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  const operator = identity("operator", "local");
  const adminA = identity("admin-a", "tenant-a");
  const adminB = identity("admin-b", "tenant-b");
  const userB = identity("user-b", "tenant-b");
  const users = () => userCommands(host.ctx);

  beforeAll(async () => {
    host = await startMembershipHost(cluster());
  });
  afterAll(async () => {
    await host?.close();
  });

  it("an earlier version's bootstrap admin becomes the operator by bootstrapping again, once", async () => {
    // What the previous version wrote: the marker and an admin.
    await host.ctx.log.append(
      { type: "system", id: "bootstrap" },
      { type: "system.bootstrapped", data: { admin: operator.signPublicKey }, actor: "bootstrap" },
      0,
    );
    const ref = { type: "user", id: operator.signPublicKey };
    await host.ctx.log.append(ref, { type: "user.added", data: asUser(operator, "admin"), actor: "bootstrap" }, 0);
    await host.ctx.projections.get("users")?.caughtUp();
    // As an admin of "local", it cannot create tenant-a's admin.
    expect((await signedFetch(host.url, operator, "POST", "/v1/users", asUser(adminA, "admin"))).status).toBe(403);

    expect((await users().bootstrap(asUser(operator, "operator"))).role).toBe("operator");
    const after = (await host.ctx.log.read(ref)).length;
    expect((await users().bootstrap(asUser(operator, "operator"))).role).toBe("operator");
    expect((await host.ctx.log.read(ref)).length).toBe(after);
    expect(after).toBe(2);
    // Another identity cannot bootstrap.
    await expect(users().bootstrap(asUser(adminA, "operator"))).rejects.toMatchObject({ code: "conflict" });
  });

  it("the operator creates admins in any tenant, and operators", async () => {
    for (const k of [adminA, adminB]) {
      expect((await signedFetch(host.url, operator, "POST", "/v1/users", asUser(k, "admin"))).status).toBe(201);
    }
    const second = identity("operator-2", "local");
    expect((await signedFetch(host.url, operator, "POST", "/v1/users", asUser(second, "operator"))).status).toBe(201);
  });

  it("an admin of A cannot create a user in B, nor an operator", async () => {
    const intruder = identity("intruder", "tenant-b");
    const res = await signedFetch(host.url, adminA, "POST", "/v1/users", asUser(intruder, "admin"));
    expect(res.status).toBe(403);
    const op = identity("op", "tenant-a");
    expect((await signedFetch(host.url, adminA, "POST", "/v1/users", asUser(op, "operator"))).status).toBe(403);
    expect((await signedFetch(host.url, adminB, "POST", "/v1/users", asUser(userB, "member"))).status).toBe(201);
  });

  it("an admin of A cannot list, read or revoke B's users; the operator can", async () => {
    const listA = await signedFetch(host.url, adminA, "GET", "/v1/users");
    expect(listA.status).toBe(200);
    const tenants = (listA.body as { users: { tenant: string }[] }).users.map((u) => u.tenant);
    expect(new Set(tenants)).toEqual(new Set(["tenant-a"]));
    expect((await signedFetch(host.url, adminA, "GET", "/v1/users?tenant=tenant-b")).status).toBe(404);
    expect((await signedFetch(host.url, adminA, "GET", `/v1/users/${userB.signPublicKey}`)).status).toBe(404);
    const revoke = await signedFetch(host.url, adminA, "POST", `/v1/users/${userB.signPublicKey}/revoke`, {});
    expect(revoke.status).toBe(404);
    expect(messageOf(revoke.body)).toBe("no such user");

    const all = await signedFetch(host.url, operator, "GET", "/v1/users");
    const every = new Set((all.body as { users: { tenant: string }[] }).users.map((u) => u.tenant));
    expect(every).toEqual(new Set(["local", "tenant-a", "tenant-b"]));
    const onlyB = await signedFetch(host.url, operator, "GET", "/v1/users?tenant=tenant-b");
    expect((onlyB.body as { users: unknown[] }).users).toHaveLength(2);
    expect((await signedFetch(host.url, operator, "GET", `/v1/users/${userB.signPublicKey}`)).status).toBe(200);
  });

  it("weak keys are refused at registration with a 400 naming the field", async () => {
    const who = identity("weak", "tenant-a");
    const weakSign = [
      "0100000000000000000000000000000000000000000000000000000000000000", // identity
      "0100000000000000000000000000000000000000000000000000000000000080", // identity, sign bit set
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1: identity, non-canonical
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y ≥ p
    ];
    for (const h of weakSign) {
      const res = await signedFetch(host.url, adminA, "POST", "/v1/users", {
        ...asUser(who, "member"),
        sign_pub: hex(h),
      });
      expect([h, res.status]).toEqual([h, 400]);
      expect(messageOf(res.body)).toContain("sign_pub");
    }
    const weakKex = [
      "0000000000000000000000000000000000000000000000000000000000000000", // all zeros
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p: zero, non-canonical
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
    ];
    for (const h of weakKex) {
      const res = await signedFetch(host.url, adminA, "POST", "/v1/users", {
        ...asUser(who, "member"),
        kex_pub: hex(h),
      });
      expect([h, res.status]).toEqual([h, 400]);
      expect(messageOf(res.body)).toContain("kex_pub");
    }
    expect((await signedFetch(host.url, adminA, "POST", "/v1/users", asUser(who, "member"))).status).toBe(201);
  });
});
