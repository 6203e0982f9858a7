import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BundleResult, bundleServices, SERVICES } from "../../deploy/docker/service-bundle.ts";
import { root } from "./deploy-files.ts";

// What the Dockerfile's build stage runs (deploy/docker/service-bundle.ts), run
// here, and each bundle started the way the runtime image starts it: plain
// `node --enable-source-maps dist/<service>.mjs`, NODE_ENV=production, no tsx.
// The output sits under the repository so the bundles resolve their external
// packages from node_modules, as they do from /app/node_modules in the image.
const cluster = useCluster({ nodes: 1 });
let outdir: string;
let result: BundleResult;

beforeAll(async () => {
  await mkdir(join(root, ".cache"), { recursive: true });
  outdir = mkdtempSync(join(root, ".cache", "bundle-test-"));
  result = await bundleServices({ root, outdir, services: [...SERVICES] });
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

function start(
  file: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; output: string[] }> {
  const child = spawn(process.execPath, ["--enable-source-maps", file], {
    cwd: outdir,
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stderr?.on("data", (b: Buffer) => output.push(b.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not listen:\n${output.join("\n")}`)), 30_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      output.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "listening" && entry.url) {
          clearTimeout(timer);
          resolve({ child, url: entry.url, output });
        }
      } catch {
        // not a log line
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}:\n${output.join("\n")}`));
    });
  });
}

describe("the service bundles of the runtime image", () => {
  it("need no package outside the production dependencies", () => {
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(result.externalPackages.length).toBeGreaterThan(0);
    for (const p of result.externalPackages) {
      expect(Object.keys(manifest.dependencies), p).toContain(p);
      expect(Object.keys(manifest.devDependencies), p).not.toContain(p);
    }
    // Workspace packages are inlined: the image has no libs/ sources.
    expect(result.externalPackages.filter((p) => p.startsWith("@conclave/"))).toEqual([]);
  });

  it.for(SERVICES)("%s starts from its bundle, answers its probes and exits 0 on SIGTERM", async (service) => {
    const { child, url, output } = await start(result.outputs[service] as string, {
      ...cluster().serviceEnv(service),
      // The auth callout also signs its answers with the issuer key.
      ...(service === "access"
        ? {
            CONCLAVE_ACCESS_ISSUER_SEED: cluster().credentials.issuer,
            CONCLAVE_NATS_SYSTEM_SEED: cluster().credentials.system,
          }
        : {}),
      CONCLAVE_REPLICAS: "1",
      CONCLAVE_HOST: "127.0.0.1",
      CONCLAVE_PORT: "0",
    });
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status, output.join("\n")).toBe(200);
      expect(await (await fetch(`${url}/metrics`)).text()).toContain("conclave_http_requests_total");
    } finally {
      const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exit, output.join("\n")).toBe(0);
    }
  });
});
