import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Fetching a binary from Debian's archive without apt: read the suites'
// Packages indexes, pick the newest version, download the .deb, check its
// SHA-256 against the index, and pull one file out of the data tarball.

const DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian";
// Newest first; unstable usually carries the newest nats-server.
const DEFAULT_SUITES = ["sid", "forky", "trixie-backports", "trixie", "bookworm-backports"];

export interface DebianPackage {
  name: string;
  version: string;
  filename: string;
  sha256: string;
  size: number;
  suite: string;
}

function debianArch(): string {
  switch (process.arch) {
    case "x64":
      return "amd64";
    case "arm64":
      return "arm64";
    case "arm":
      return "armhf";
    case "ppc64":
      return "ppc64el";
    case "s390x":
      return "s390x";
    default:
      throw new Error(`no Debian architecture known for Node's arch ${process.arch}`);
  }
}

/** Parses the stanzas of a Debian Packages index and returns those of one package. */
export function parsePackagesIndex(text: string, name: string, suite: string): DebianPackage[] {
  const found: DebianPackage[] = [];
  for (const stanza of text.split(/\n\n+/)) {
    if (!stanza.startsWith(`Package: ${name}\n`)) continue;
    const field = (key: string) => stanza.match(new RegExp(`^${key}: (.+)$`, "m"))?.[1]?.trim();
    const version = field("Version");
    const filename = field("Filename");
    const sha256 = field("SHA256");
    const size = Number(field("Size"));
    if (version && filename && sha256 && Number.isFinite(size)) {
      found.push({ name, version, filename, sha256, size, suite });
    }
  }
  return found;
}

/**
 * Compares two Debian versions of the shape nats-server uses
 * (`[epoch:]upstream[-revision]`, numeric dot-separated parts with optional
 * suffixes such as `+b1` or `~rc1`). Returns <0, 0 or >0.
 */
export function compareDebianVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [epoch, rest] = v.includes(":") ? [Number(v.split(":")[0]), v.slice(v.indexOf(":") + 1)] : [0, v];
    const dash = rest.lastIndexOf("-");
    return {
      epoch,
      upstream: dash >= 0 ? rest.slice(0, dash) : rest,
      revision: dash >= 0 ? rest.slice(dash + 1) : "0",
    };
  };
  const x = split(a);
  const y = split(b);
  return x.epoch - y.epoch || compareVersionPart(x.upstream, y.upstream) || compareVersionPart(x.revision, y.revision);
}

// dpkg's ordering, restricted to what matters here: digits compare as numbers,
// `~` sorts before everything (pre-releases), letters before other symbols.
function compareVersionPart(a: string, b: string): number {
  const tokens = (s: string) => s.match(/\d+|[^\d]+/g) ?? [];
  const ta = tokens(a);
  const tb = tokens(b);
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const pa = ta[i];
    const pb = tb[i];
    if (pa === undefined) return pb?.startsWith("~") ? 1 : -1;
    if (pb === undefined) return pa.startsWith("~") ? -1 : 1;
    const na = /^\d+$/.test(pa);
    const nb = /^\d+$/.test(pb);
    if (na && nb) {
      const d = Number(pa) - Number(pb);
      if (d !== 0) return d;
    } else if (pa !== pb) {
      if (pa.startsWith("~") !== pb.startsWith("~")) return pa.startsWith("~") ? -1 : 1;
      if (na !== nb) return na ? 1 : -1;
      return pa < pb ? -1 : 1;
    }
  }
  return 0;
}

async function download(url: string, timeoutMs: number): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

function run(cmd: string, args: string[], input?: Buffer): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/** Finds the newest version of a package across suites. */
export async function findNewestPackage(
  name: string,
  opts: { mirror?: string; suites?: string[]; arch?: string } = {},
): Promise<DebianPackage> {
  const mirror = opts.mirror ?? DEFAULT_DEBIAN_MIRROR;
  const arch = opts.arch ?? debianArch();
  const problems: string[] = [];
  const candidates: DebianPackage[] = [];
  for (const suite of opts.suites ?? DEFAULT_SUITES) {
    const url = `${mirror}/dists/${suite}/main/binary-${arch}/Packages.xz`;
    try {
      const index = run("xz", ["-dc"], await download(url, 60_000)).toString("utf8");
      candidates.push(...parsePackagesIndex(index, name, suite));
    } catch (err) {
      problems.push(`${suite}: ${(err as Error).message}`);
    }
  }
  candidates.sort((a, b) => compareDebianVersions(b.version, a.version));
  const newest = candidates[0];
  if (!newest) throw new Error(`no ${name} package for ${arch} in ${mirror} (${problems.join("; ") || "not listed"})`);
  return newest;
}

/** Splits an `ar` archive (the .deb container) into its members. */
export function readArMembers(deb: Buffer): Map<string, Buffer> {
  if (deb.subarray(0, 8).toString("latin1") !== "!<arch>\n") throw new Error("not an ar archive");
  const members = new Map<string, Buffer>();
  let at = 8;
  while (at + 60 <= deb.length) {
    const header = deb.subarray(at, at + 60).toString("latin1");
    const name = header.slice(0, 16).trim().replace(/\/$/, "");
    const size = Number(header.slice(48, 58).trim());
    if (!Number.isFinite(size)) throw new Error("corrupt ar header");
    members.set(name, deb.subarray(at + 60, at + 60 + size));
    at += 60 + size + (size % 2);
  }
  return members;
}

/** Downloads a package, verifies it against the index, and extracts the first file whose path matches to `dest`. */
export async function extractFromPackage(
  pkg: DebianPackage,
  pathInPackage: RegExp,
  dest: string,
  opts: { mirror?: string } = {},
): Promise<void> {
  const deb = await download(`${opts.mirror ?? DEFAULT_DEBIAN_MIRROR}/${pkg.filename}`, 300_000);
  const digest = createHash("sha256").update(deb).digest("hex");
  if (deb.length !== pkg.size || digest !== pkg.sha256) {
    throw new Error(`downloaded ${pkg.filename} does not match the archive index (size or SHA-256 differ)`);
  }
  const data = [...readArMembers(deb)].find(([name]) => name.startsWith("data.tar"));
  if (!data) throw new Error(`${pkg.filename} has no data.tar member`);
  const work = await mkdtemp(join(tmpdir(), "conclave-deb-"));
  try {
    const tarball = join(work, data[0]);
    await writeFile(tarball, data[1]);
    // GNU tar detects the compression (xz, zstd, gzip) of a file by itself.
    const out = join(work, "out");
    await mkdir(out);
    const member = run("tar", ["-tf", tarball])
      .toString("utf8")
      .split("\n")
      .find((name) => pathInPackage.test(name));
    if (!member) throw new Error(`${pkg.filename} holds no file matching ${pathInPackage}`);
    run("tar", ["-xf", tarball, "-C", out, member]);
    await copyFile(join(out, member), dest);
    await chmod(dest, 0o755);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
