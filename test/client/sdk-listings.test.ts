import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeKeyFile } from "@conclave/auth";
import { ConclaveClient } from "@conclave/client";
import { membershipModule } from "@conclave/membership";
import { type Host, loadServiceEnv, startHost } from "@conclave/runtime";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, register } from "../support/membership-fixture.ts";
import { SeededUsers } from "../support/seeded-users.ts";

// Issue 18, item 1: the SDK iterates a listing's pages by following `next`, and the CLI's
// `users list` and `rooms list` follow cursors with --all (one page, at --limit, without); both
// page through a tenant of 10^5 users (seeded through the store: 10^5 signed registrations would
// take the serialized projection ~20 min).

const root = join(import.meta.dirname, "../..");

/** Runs the CLI to its end (asynchronously: the in-process host must keep answering meanwhile). */
function cli(
  keyFile: string,
  url: string,
  ...args: string[]
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["services/cli/bin/conclave.mjs", "--key-file", keyFile, "--url", url, ...args],
      {
        cwd: root,
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

describe("SDK and CLI: listings page by cursor", () => {
  const cluster = useCluster({ nodes: 1 });
  let host: Host;
  let dir: string;
  const operator = identity("operator", "local");
  const bots = [1, 2, 3, 4, 5, 6].map((i) => identity(`bot-${i}`, "fleet"));

  beforeAll(async () => {
    host = await startHost({
      env: loadServiceEnv({
        ...cluster().serviceEnv("membership"),
        CONCLAVE_REPLICAS: "1",
        CONCLAVE_PORT: "0",
        CONCLAVE_LOG_LEVEL: "warn",
        CONCLAVE_IP_RATE_PER_S: "100000",
        CONCLAVE_IP_BURST: "100000",
      }),
      modules: [membershipModule],
    });
    await register(host, operator, bots, true);
    dir = await mkdtemp(join(tmpdir(), "conclave-listings-"));
    await writeKeyFile(join(dir, "operator.key.json"), { ...operator, url: host.url });
  });
  afterAll(async () => {
    await host?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the SDK's page iterator follows next to the last page; the item iterator and listUsers give every user once", async () => {
    const client = new ConclaveClient({ url: host.url, identity: operator });
    const pages = [];
    for await (const page of client.listUsersPages({ tenant: "fleet", limit: 4 })) pages.push(page);
    expect(pages.map((p) => p.items.length)).toEqual([4, 2]);
    expect(pages[0]?.next).toBeDefined();
    expect(pages[1]?.next).toBeUndefined();
    const names: string[] = [];
    for await (const u of client.iterateUsers({ tenant: "fleet", limit: 1 })) names.push(u.name ?? "");
    expect(names.sort()).toEqual(bots.map((b) => b.name).sort());
    // The existing call returns every page.
    expect((await client.listUsers()).length).toBe(bots.length + 1);
  });

  it("the CLI's users list gives one page at --limit, and every page with --all", async () => {
    const keyFile = join(dir, "operator.key.json");
    const one = await cli(keyFile, host.url, "--json", "users", "list", "--tenant", "fleet", "--limit", "4");
    expect(one.status, one.stderr).toBe(0);
    expect((JSON.parse(one.stdout) as unknown[]).length).toBe(4);
    expect(one.stderr).toMatch(/more: --cursor [A-Za-z0-9_-]+/);

    const all = await cli(keyFile, host.url, "--json", "users", "list", "--tenant", "fleet", "--limit", "4", "--all");
    expect(all.status, all.stderr).toBe(0);
    expect((JSON.parse(all.stdout) as { name: string }[]).map((u) => u.name).sort()).toEqual(
      bots.map((b) => b.name).sort(),
    );
    expect(all.stderr).not.toContain("more:");
  }, 60_000);

  it("the SDK iterator and the CLI's --all page through 10^5 users, each once", async () => {
    const huge = new SeededUsers(host.ctx.store, "huge");
    const started = performance.now();
    await huge.growTo(100_000);
    console.log(`10^5 users seeded: ${(performance.now() - started).toFixed(0)} ms`);
    const expected = new Set(huge.signPubs);

    // The SDK and the CLI page at the same time: each is its own client of the one host.
    const timed = async <T>(what: string, run: () => Promise<T>) => {
      const t = performance.now();
      const result = await run();
      console.log(`${what}: ${(performance.now() - t).toFixed(0)} ms`);
      return result;
    };
    const client = new ConclaveClient({ url: host.url, identity: operator });
    const sdk = timed("SDK: 10^5 users in pages of 1,000", async () => {
      const pages: string[][] = [];
      for await (const page of client.listUsersPages({ tenant: "huge", limit: 1000 })) {
        pages.push(page.items.map((u) => u.sign_pub));
      }
      return pages;
    });
    const keyFile = join(dir, "operator.key.json");
    const all = timed("CLI --all: 10^5 users", () =>
      cli(keyFile, host.url, "--json", "users", "list", "--tenant", "huge", "--limit", "1000", "--all"),
    );
    const pages = await sdk;
    const listed = pages.flat();
    expect([pages.length, listed.length, new Set(listed).size]).toEqual([100, 100_000, 100_000]);
    expect(listed.every((k) => expected.has(k))).toBe(true);

    const out = await all;
    expect(out.status, out.stderr.slice(-2_000)).toBe(0);
    const keys = (JSON.parse(out.stdout) as { sign_pub: string }[]).map((u) => u.sign_pub);
    expect([keys.length, new Set(keys).size]).toEqual([100_000, 100_000]);
    expect(keys).toEqual(huge.signPubs);
  }, 120_000);
});
