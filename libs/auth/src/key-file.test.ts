import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateIdentity, readKeyFile, writeKeyFile } from "./key-file.ts";

// Issue 15: key files were stat-ed then read (a swap in between handed over another file),
// symlinks were followed, and an existing directory kept its mode.

const key = generateIdentity({ name: "bot", tenant: "acme", url: "http://127.0.0.1:7420" });
const isRoot = process.getuid?.() === 0;

describe("key files", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "conclave-keys-"));
  });
  afterEach(() => {
    execFileSync("rm", ["-rf", dir]);
  });

  it("written 0600 in a 0700 directory, read back; never overwritten, no temporary file left", async () => {
    const path = join(dir, "keys", "bot.key.json");
    await writeKeyFile(path, key);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "keys")).mode & 0o777).toBe(0o700);
    await expect(readKeyFile(path)).resolves.toEqual(key);
    await expect(writeKeyFile(path, key)).rejects.toThrow(/exists; not overwritten/);
    expect(readdirSync(join(dir, "keys"))).toEqual(["bot.key.json"]);
  });

  it("an existing directory writable by others is tightened before the key goes in", async () => {
    const shared = join(dir, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    await writeKeyFile(join(shared, "bot.key.json"), key);
    expect(statSync(shared).mode & 0o777).toBe(0o755);
  });

  it("does not write through a symlink: neither at the file's path nor as its directory", async () => {
    const target = join(dir, "elsewhere.json");
    symlinkSync(target, join(dir, "link.json"));
    await expect(writeKeyFile(join(dir, "link.json"), key)).rejects.toThrow(/exists; not overwritten/);
    expect(() => statSync(target)).toThrow();
    mkdirSync(join(dir, "real"));
    symlinkSync(join(dir, "real"), join(dir, "linked-dir"));
    await expect(writeKeyFile(join(dir, "linked-dir", "bot.json"), key)).rejects.toThrow(/symbolic link/);
  });

  it("refuses to read a symlink, even to a valid key file", async () => {
    const real = join(dir, "real.json");
    await writeKeyFile(real, key);
    symlinkSync(real, join(dir, "link.json"));
    await expect(readKeyFile(join(dir, "link.json"))).rejects.toThrow(/symbolic link; refusing to follow it/);
  });

  it("refuses what is not a regular file, or readable by others", async () => {
    mkdirSync(join(dir, "a-dir"), { mode: 0o700 });
    await expect(readKeyFile(join(dir, "a-dir"))).rejects.toThrow(/not a regular file/);
    execFileSync("mkfifo", ["-m", "600", join(dir, "fifo")]);
    await expect(readKeyFile(join(dir, "fifo"))).rejects.toThrow(/not a regular file/);
    const open = join(dir, "open.json");
    writeFileSync(open, JSON.stringify(key), { mode: 0o644 });
    chmodSync(open, 0o644);
    await expect(readKeyFile(open)).rejects.toThrow(/readable by others \(mode 644\)/);
  });

  it.runIf(isRoot)("refuses a key file owned by someone else", async () => {
    const theirs = join(dir, "theirs.json");
    await writeKeyFile(theirs, key);
    chownSync(theirs, 4242, 4242);
    await expect(readKeyFile(theirs)).rejects.toThrow(/owned by uid 4242, not by you/);
  });
});
