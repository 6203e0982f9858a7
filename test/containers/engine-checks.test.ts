import { generateCredentials, seedsEnv, serverEnv } from "@conclave/testkit";
import { describe, expect, it } from "vitest";
import { docker, run } from "./docker.ts";

// What only Docker itself can check, on the engine test/containers/global-setup.ts
// provides (moved from test/deploy, where it was skipped for want of an engine).
// The NATS credentials the README has `conclave credentials init` write into .env: compose
// refuses to interpolate the file without them (no anonymous NATS, docs/dataplane.md).
const credentials = generateCredentials();
const env = (extra: Record<string, string>) => ({
  ...process.env,
  ...serverEnv(credentials),
  ...seedsEnv(credentials),
  ...extra,
});

describe("docker compose config", () => {
  it("accepts docker-compose.yml (schema, interpolation, anchors)", async () => {
    // Any well-formed key will do for the config check; a real one is generated per the README.
    const r = await run("docker", ["compose", "config", "--quiet"], {
      env: env({ CONCLAVE_GATEWAY_JWT_KEY: "A".repeat(86) }),
    });
    expect(r.code, r.stderr).toBe(0);
  });

  it("refuses to start without the gateway's signing key", async () => {
    const r = await run("docker", ["compose", "config", "--quiet"], { env: env({ CONCLAVE_GATEWAY_JWT_KEY: "" }) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/CONCLAVE_GATEWAY_JWT_KEY/);
  });

  it("uses the official images unless NODE_IMAGE, NATS_IMAGE and NGINX_IMAGE say otherwise", async () => {
    const images = async (extra: Record<string, string>) =>
      (
        await run("docker", ["compose", "config", "--images"], {
          env: {
            ...env({ CONCLAVE_GATEWAY_JWT_KEY: "A".repeat(86), ...extra }),
            NATS_IMAGE: extra.NATS_IMAGE ?? "",
            NGINX_IMAGE: extra.NGINX_IMAGE ?? "",
          },
        })
      ).stdout;
    expect(await images({})).toMatch(/^nats:\d/m);
    expect(await images({})).toMatch(/^nginx:\d/m);
    const local = await images({ NATS_IMAGE: "local/nats:x", NGINX_IMAGE: "local/nginx:x" });
    expect(local).toContain("local/nats:x");
    expect(local).toContain("local/nginx:x");
  });
});

describe("docker build", () => {
  it("builds the runtime image on NODE_IMAGE, which runs Node 24 as a non-root user", async () => {
    const base = process.env.NODE_IMAGE as string;
    await docker([
      "build",
      "--build-arg",
      `NODE_IMAGE=${base}`,
      "--target",
      "runtime",
      "-t",
      "conclave-server:ctest",
      ".",
    ]);
    const user = await docker(["run", "--rm", "--entrypoint", "id", "conclave-server:ctest", "-u"]);
    expect(user.trim()).not.toBe("0");
    const node = await docker(["run", "--rm", "--entrypoint", "node", "conclave-server:ctest", "--version"]);
    expect(node.trim()).toMatch(/^v24\./);
    await docker(["image", "rm", "conclave-server:ctest"]);
  });
});
