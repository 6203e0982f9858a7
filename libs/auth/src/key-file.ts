import { generateKeyPairSync, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, link, mkdir, open, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { tenantId } from "@conclave/protocol";
import { z } from "zod";
import { fromBase64url, toBase64url } from "./base64url.ts";
import { generateEd25519KeyPair, privateKeyObject } from "./ed25519-keys.ts";

/**
 * A bot's identity on disk (docs/auth.md): Ed25519 signing keys in tweetnacl layout
 * and an X25519 key-exchange pair, JSON, mode 0600.
 */

const b64 = (bytes: number) =>
  z.string().refine((s) => fromBase64url(s)?.byteLength === bytes, `must be ${bytes} bytes of unpadded base64url`);

export const keyFileSchema = z
  .object({
    name: z.string().min(1).max(128),
    tenant: tenantId,
    signPublicKey: b64(32),
    signSecretKey: b64(64),
    kexPublicKey: b64(32),
    kexSecretKey: b64(32),
    url: z.url(),
  })
  .strict()
  .refine((k) => {
    // A file whose halves disagree would sign as someone else: refuse to load it.
    const secret = fromBase64url(k.signSecretKey);
    const pub = fromBase64url(k.signPublicKey);
    if (!secret || !pub) return false;
    try {
      privateKeyObject(secret);
    } catch {
      return false;
    }
    return Buffer.from(secret.subarray(32)).equals(pub);
  }, "signSecretKey does not belong to signPublicKey");

export type KeyFile = z.infer<typeof keyFileSchema>;

/** A new identity: fresh Ed25519 and X25519 key pairs. */
export function generateIdentity(opts: { name: string; tenant: string; url: string }): KeyFile {
  const sign = generateEd25519KeyPair();
  const kex = generateKeyPairSync("x25519");
  const pub = kex.publicKey.export({ format: "jwk" }).x;
  const sec = kex.privateKey.export({ format: "jwk" }).d;
  if (!pub || !sec) throw new Error("X25519 key export failed");
  return keyFileSchema.parse({
    name: opts.name,
    tenant: opts.tenant,
    signPublicKey: toBase64url(sign.publicKey),
    signSecretKey: toBase64url(sign.secretKey),
    kexPublicKey: pub,
    kexSecretKey: sec,
    url: opts.url,
  });
}

/** A key file is a few hundred bytes: anything much larger is not one (and is not read into memory). */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * Writes a key file readable by its owner only; refuses to overwrite (a file
 * or a symlink at `path`). The directory is created 0700, or an existing one
 * of ours loses its group/other write bits (others could otherwise swap the
 * file); one owned by someone else and writable by others is refused. The
 * content goes to a fresh temporary file (O_EXCL, O_NOFOLLOW, 0600), is
 * synced, and only then linked to `path` (link fails if `path` exists), so no
 * reader ever sees a partial key and no existing file is followed or replaced.
 */
export async function writeKeyFile(path: string, key: KeyFile): Promise<void> {
  const text = `${JSON.stringify(keyFileSchema.parse(key), null, 2)}\n`;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await tightenDirectory(dir);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.chmod(0o600); // the umask may narrow the mode, never widen it: make it exact
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new Error(`${path} exists; not overwritten`);
    throw err;
  } finally {
    await unlink(temp);
  }
}

async function tightenDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(
    (err: NodeJS.ErrnoException) => {
      // Linux answers ENOTDIR for a symlink opened with O_DIRECTORY | O_NOFOLLOW.
      throw err.code === "ELOOP" || err.code === "ENOTDIR"
        ? new Error(`${dir} is a symbolic link or not a directory; refusing to write a key through it`)
        : err;
    },
  );
  try {
    const info = await handle.stat();
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) {
      if ((info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0 /* sticky, as /tmp: nobody swaps our file */) {
        throw new Error(`${dir} is writable by others and not yours; refusing to write a key there`);
      }
      return;
    }
    if ((info.mode & 0o022) !== 0) await handle.chmod(info.mode & 0o7755);
  } finally {
    await handle.close();
  }
}

/**
 * Reads and validates a key file. Opened once, without following a symlink
 * (O_NOFOLLOW), and every check is made on that open handle (fstat), so the
 * file checked is the file read: a regular file, owned by the caller, mode
 * 0600 or tighter. Checking the path first and reading it after (as before)
 * let a swap between the two hand over another file.
 */
export async function readKeyFile(path: string): Promise<KeyFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") {
      throw new Error(`${path} is a symbolic link; refusing to follow it (point to the file itself)`);
    }
    throw err;
  }
  let text: string;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) throw new Error(`${path} is owned by uid ${info.uid}, not by you`);
    if ((info.mode & 0o077) !== 0) {
      throw new Error(`${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    if (info.size > MAX_KEY_FILE_BYTES) throw new Error(`${path} is too large to be a key file`);
    text = await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path}: not JSON`);
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue?.path.join(".") || "key file"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}
