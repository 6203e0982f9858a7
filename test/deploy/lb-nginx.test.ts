import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePorts } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onPath, readText } from "./deploy-files.ts";
import { type ServiceName, SPEC_ROUTES, samplePath, UNROUTED_PATHS } from "./spec-routes.ts";

// deploy/lb/nginx.conf run by a real nginx in front of stub services. Needs
// nginx >= 1.27.3 (upstream `resolve`): NGINX_BIN, else `nginx` on PATH. The
// development and CI machines have none, so this suite is SKIPPED there; it
// was run with nginx 1.30.6 from Debian's archive (see docs/operations.md).

function findNginx(): { bin: string; version: string } | undefined {
  const bin = process.env.NGINX_BIN ?? onPath("nginx");
  if (!bin || !existsSync(bin)) return undefined;
  const out = spawnSync(bin, ["-v"], { encoding: "utf8", timeout: 10_000 });
  const version = /nginx\/(\d+\.\d+\.\d+)/.exec(`${out.stdout}${out.stderr}`)?.[1];
  if (!version) return undefined;
  const [major = 0, minor = 0, patch = 0] = version.split(".").map(Number);
  return major * 1e6 + minor * 1e3 + patch >= 1_027_003 ? { bin, version } : undefined;
}

const nginx = findNginx();
const MiB = 1024 * 1024;

/** What a stub service saw of one request. */
interface Seen {
  service: ServiceName;
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  bytes: number;
}

interface Stub {
  service: ServiceName;
  server: Server;
  port: number;
  seen: Seen[];
  /** Called with each body chunk as it arrives (streaming checks). */
  onData?: (bytes: number) => void;
}

async function startStub(service: ServiceName): Promise<Stub> {
  const stub = { service, seen: [] as Seen[] } as unknown as Stub;
  stub.server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      stub.onData?.(bytes);
    });
    req.on("end", () => {
      stub.seen.push({ service, method: req.method ?? "", url: req.url ?? "", headers: req.headers, bytes });
      res.writeHead(200, {
        "content-type": "application/json",
        "x-stub-service": service,
        "x-stub-url": req.url ?? "",
        "x-stub-bytes": String(bytes),
      });
      res.end(JSON.stringify({ service }));
    });
  });
  await new Promise<void>((resolve) => stub.server.listen(0, "127.0.0.1", resolve));
  stub.port = (stub.server.address() as AddressInfo).port;
  return stub;
}

interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

function send(
  port: number,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ host: "127.0.0.1", port, method, path, headers: opts.headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    // nginx may answer 413 and close while the body is still being written.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    req.end(opts.body);
  });
}

/**
 * The shipped config with only what a loopback run needs changed, each change
 * checked to apply exactly once per site: stub addresses for the Docker service
 * names, a free loopback port, and temp paths (this nginx build's defaults are
 * under /var/lib).
 */
function loopbackConfig(original: string, dir: string, lbPort: number, stubs: Stub[] | undefined): string {
  let config = original.replace(
    /^http \{$/m,
    `http {\n${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
      .map((t) => `  ${t}_temp_path ${join(dir, t)};`)
      .join("\n")}`,
  );
  if (!stubs) return config;
  const listen = /^(\s*)listen 8080;$/m;
  expect(config).toMatch(listen);
  config = config.replace(listen, `$1listen 127.0.0.1:${lbPort};`);
  for (const stub of stubs) {
    const server = new RegExp(`server ${stub.service}:7420 resolve `, "g");
    expect(config.match(server), stub.service).toHaveLength(1);
    config = config.replace(server, `server 127.0.0.1:${stub.port} `);
  }
  return config;
}

describe.skipIf(!nginx)("nginx runs deploy/lb/nginx.conf (SKIPPED without nginx >= 1.27.3: set NGINX_BIN)", () => {
  const original = readText("deploy/lb/nginx.conf");
  const dir = mkdtempSync(join(tmpdir(), "conclave-lb-"));
  // Workers run as an unprivileged user when the tests run as root.
  chmodSync(dir, 0o755);
  let stubs: Record<ServiceName, Stub>;
  let lbPort: number;
  let child: ChildProcess | undefined;
  let exited: Promise<void> | undefined;
  const logFile = join(dir, "nginx.log");
  const nginxLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");

  beforeAll(async () => {
    const list = await Promise.all((["membership", "blob", "gateway"] as const).map(startStub));
    stubs = Object.fromEntries(list.map((s) => [s.service, s])) as Record<ServiceName, Stub>;
    [lbPort] = (await freePorts(1)) as [number];
    writeFileSync(join(dir, "nginx.conf"), loopbackConfig(original, dir, lbPort, list));
    // Under a watchdog: if this test process dies, the pipe closes and nginx is
    // stopped. Output goes to a file: /dev/stdout cannot be opened on the socket
    // Node uses for a child's stdio, and the config logs to /dev/stdout.
    child = spawn(
      "/bin/sh",
      [
        "-c",
        'exec 3<&0; log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & child=$!; ( read -r _ <&3; kill -TERM "$child" 2>/dev/null ) & wait "$child"',
        "watchdog",
        logFile,
        nginx?.bin as string,
        "-p",
        dir,
        "-c",
        join(dir, "nginx.conf"),
        "-g",
        `daemon off; pid ${join(dir, "nginx.pid")};`,
      ],
      { stdio: ["pipe", "ignore", "ignore"] },
    );
    exited = new Promise((resolve) => child?.once("exit", () => resolve()));
    for (let i = 0; i < 100; i++) {
      const up = await send(lbPort, "GET", "/lb-healthz").catch(() => undefined);
      if (up?.status === 200) return;
      await sleep(50);
    }
    throw new Error(`nginx did not start:\n${nginxLog()}`);
  });

  afterAll(async () => {
    child?.stdin?.end();
    await exited;
    await Promise.all(Object.values(stubs ?? {}).map((s) => new Promise((r) => s.server.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  const reset = () => {
    for (const s of Object.values(stubs)) s.seen.length = 0;
  };

  it(`passes nginx -t as shipped (upstream names and \`resolve\` kept), nginx ${nginx?.version}`, () => {
    const checkDir = mkdtempSync(join(tmpdir(), "conclave-lb-t-"));
    try {
      writeFileSync(join(checkDir, "nginx.conf"), loopbackConfig(original, checkDir, 0, undefined));
      // Output to a file, as above: the config opens /dev/stdout.
      const out = join(checkDir, "nginx-t.log");
      const fd = openSync(out, "w");
      const r = spawnSync(
        nginx?.bin as string,
        ["-t", "-p", checkDir, "-c", join(checkDir, "nginx.conf"), "-g", `pid ${join(checkDir, "nginx.pid")};`],
        { stdio: ["ignore", fd, fd], timeout: 15_000 },
      );
      closeSync(fd);
      expect(r.status, readFileSync(out, "utf8")).toBe(0);
    } finally {
      rmSync(checkDir, { recursive: true, force: true });
    }
  });

  it.each(SPEC_ROUTES)("$method $pattern reaches $service with the request line unchanged", async (route) => {
    reset();
    const path = `${samplePath(route.pattern)}?after=a%2Fb&limit=10&x=%20y`;
    const answer = await send(lbPort, route.method, path, { headers: { host: "conclave.example:8443" } });
    expect(answer.status, nginxLog()).toBe(200);
    expect(answer.headers["x-stub-service"]).toBe(route.service);
    const seen = stubs[route.service].seen[0];
    expect(seen?.method).toBe(route.method);
    expect(seen?.url).toBe(path);
    expect(seen?.headers.host).toBe("conclave.example:8443");
  });

  it.each(UNROUTED_PATHS)("%s is answered 404 by the balancer, in the wire shape", async (path) => {
    reset();
    const answer = await send(lbPort, "GET", path);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toEqual({ error: { code: "not_found", message: "not found" } });
    expect(answer.headers["x-request-id"]).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.values(stubs).flatMap((s) => s.seen)).toEqual([]);
  });

  it("forwards a sane X-Request-Id and replaces anything else", async () => {
    reset();
    await send(lbPort, "GET", "/v1/users", { headers: { "x-request-id": "req_abc-123" } });
    await send(lbPort, "GET", "/v1/users", { headers: { "x-request-id": "bad id\u00e9" } });
    await send(lbPort, "GET", "/v1/users");
    const ids = stubs.membership.seen.map((s) => s.headers["x-request-id"]);
    expect(ids[0]).toBe("req_abc-123");
    expect(ids[1]).toMatch(/^[0-9a-f]{32}$/);
    expect(ids[2]).toMatch(/^[0-9a-f]{32}$/);
  });

  it("passes a 16 MiB blob to the service and refuses one over 17 MiB itself, in the wire shape", async () => {
    reset();
    const fits = await send(lbPort, "PUT", `/v1/blobs/${"a".repeat(64)}`, { body: Buffer.alloc(16 * MiB + 1) });
    expect(fits.status).toBe(200);
    expect(fits.headers["x-stub-bytes"]).toBe(String(16 * MiB + 1));
    const tooBig = await send(lbPort, "PUT", `/v1/blobs/${"b".repeat(64)}`, { body: Buffer.alloc(17 * MiB + 1) });
    expect(tooBig.status).toBe(413);
    expect(JSON.parse(tooBig.body).error.code).toBe("payload_too_large");
    expect(stubs.blob.seen).toHaveLength(1);
  });

  it("passes a JSON body just over the services' 1 MiB to the service (its 413), refuses over 2 MiB itself", async () => {
    reset();
    const service413 = await send(lbPort, "POST", "/v1/rooms", { body: Buffer.alloc(MiB + 1) });
    expect(service413.headers["x-stub-bytes"]).toBe(String(MiB + 1));
    const tooBig = await send(lbPort, "POST", "/v1/rooms", { body: Buffer.alloc(2 * MiB + 1) });
    expect(tooBig.status).toBe(413);
    expect(JSON.parse(tooBig.body).error.code).toBe("payload_too_large");
  });

  it("streams a blob upload: the service sees the first bytes before the client has sent the rest", async () => {
    reset();
    const firstBytes = new Promise<void>((resolve) => {
      stubs.blob.onData = () => resolve();
    });
    const req = request({
      host: "127.0.0.1",
      port: lbPort,
      method: "PUT",
      path: `/v1/blobs/${"c".repeat(64)}`,
      headers: { "content-length": String(2 * 256 * 1024) },
      agent: false,
    });
    const answer = new Promise<number>((resolve, reject) => {
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
    });
    req.write(Buffer.alloc(256 * 1024));
    const first = await Promise.race([firstBytes.then(() => "streamed"), sleep(5_000).then(() => "buffered")]);
    req.end(Buffer.alloc(256 * 1024));
    stubs.blob.onData = undefined;
    expect(first).toBe("streamed");
    expect(await answer).toBe(200);
  });

  it("answers 503 + Retry-After in the wire shape when no replica of a service is reachable", async () => {
    await new Promise((r) => stubs.gateway.server.close(r));
    const answer = await send(lbPort, "POST", "/v1/rpc", { body: Buffer.from("{}") });
    expect(answer.status).toBe(503);
    expect(answer.headers["retry-after"]).toBe("1");
    expect(JSON.parse(answer.body).error.code).toBe("unavailable");
  });

  // Last: it spends this client's burst.
  it("limits each client (50/s, burst 100) with 429 + Retry-After, never its own probe", async () => {
    const answers = await Promise.all(Array.from({ length: 250 }, () => send(lbPort, "GET", "/v1/users")));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]?.headers["retry-after"]).toBe("1");
    expect(JSON.parse(limited[0]?.body ?? "{}").error.code).toBe("rate_limited");
    const probes = await Promise.all(Array.from({ length: 50 }, () => send(lbPort, "GET", "/lb-healthz")));
    expect(probes.every((p) => p.status === 200)).toBe(true);
  });
});
