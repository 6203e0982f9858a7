import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compareDebianVersions, extractFromPackage, findNewestPackage } from "./debian-package.ts";

const MIN_NATS_SERVER = "2.10.0";

export interface NatsServerBinary {
  path: string;
  version: string;
  source: "NATS_SERVER_BIN" | "PATH" | "cache" | "download";
}

/** The repository root: where the ignored `.cache/` folder lives. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) || !existsSync(join(dir, "libs"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the Conclave project root");
    dir = up;
  }
  return dir;
}

export function natsCacheDir(): string {
  return join(projectRoot(), ".cache", "nats-server");
}

/** Runs `nats-server --version`; undefined when it is not a runnable nats-server. */
function probeVersion(path: string): string | undefined {
  const r = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? r.stdout.match(/v?(\d+\.\d+\.\d+[^\s]*)/)?.[1] : undefined;
}

function isSupported(version: string): boolean {
  return compareDebianVersions(version, MIN_NATS_SERVER) >= 0;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function newestCached(cacheDir: string): NatsServerBinary | undefined {
  if (!existsSync(cacheDir)) return undefined;
  const versions = readdirSync(cacheDir)
    .filter((v) => existsSync(join(cacheDir, v, "nats-server")))
    .sort((a, b) => compareDebianVersions(b, a));
  for (const dirVersion of versions) {
    const path = join(cacheDir, dirVersion, "nats-server");
    const version = probeVersion(path);
    if (version && isSupported(version)) return { path, version, source: "cache" };
  }
  return undefined;
}

/**
 * Resolves a nats-server binary: NATS_SERVER_BIN, else PATH (>= 2.10), else
 * the project cache, else the newest Debian package downloaded into the cache.
 */
export async function resolveNatsServer(
  opts: { cacheDir?: string; log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<NatsServerBinary> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const explicit = env.NATS_SERVER_BIN;
  if (explicit) {
    const path = resolve(explicit);
    const version = probeVersion(path);
    if (!version) throw new Error(`NATS_SERVER_BIN=${explicit} is not a runnable nats-server`);
    if (!isSupported(version)) {
      throw new Error(`NATS_SERVER_BIN=${explicit} is nats-server ${version}; Conclave needs >= ${MIN_NATS_SERVER}`);
    }
    return { path, version, source: "NATS_SERVER_BIN" };
  }
  const fromPath = onPath("nats-server");
  if (fromPath) {
    const version = probeVersion(fromPath);
    if (version && isSupported(version)) return { path: fromPath, version, source: "PATH" };
    log(`ignoring ${fromPath} (version ${version ?? "unknown"} < ${MIN_NATS_SERVER})`);
  }
  const cacheDir = opts.cacheDir ?? natsCacheDir();
  const cached = newestCached(cacheDir);
  if (cached) return cached;

  const mirror = env.DEBIAN_MIRROR;
  let pkg: Awaited<ReturnType<typeof findNewestPackage>>;
  try {
    pkg = await findNewestPackage("nats-server", mirror ? { mirror } : {});
  } catch (err) {
    throw new Error(
      `no nats-server available: none in NATS_SERVER_BIN, none >= ${MIN_NATS_SERVER} on PATH, none cached in ${cacheDir}, and Debian's archive could not be read (${(err as Error).message}). Install nats-server >= ${MIN_NATS_SERVER} and set NATS_SERVER_BIN, or set DEBIAN_MIRROR to a reachable Debian mirror.`,
    );
  }
  log(`downloading nats-server ${pkg.version} from Debian ${pkg.suite} (${(pkg.size / 1e6).toFixed(1)} MB)`);
  const upstream = pkg.version.replace(/^\d+:/, "").replace(/-[^-]+$/, "");
  const dir = join(cacheDir, upstream);
  await mkdir(dir, { recursive: true });
  // Write beside the final name and rename: concurrent provisioners never see half a binary.
  const partial = join(dir, `nats-server.${process.pid}.partial`);
  await extractFromPackage(pkg, /^(\.\/)?usr\/s?bin\/nats-server$/, partial, mirror ? { mirror } : {});
  const version = probeVersion(partial);
  if (!version || !isSupported(version)) {
    throw new Error(`the downloaded nats-server (${pkg.filename}) does not run or is older than ${MIN_NATS_SERVER}`);
  }
  const path = join(dir, "nats-server");
  await rename(partial, path);
  return { path, version, source: "download" };
}
