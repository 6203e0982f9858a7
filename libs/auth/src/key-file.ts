import { generateKeyPairSync } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
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

/** Writes a key file readable by its owner only; refuses to overwrite. */
export async function writeKeyFile(path: string, key: KeyFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(keyFileSchema.parse(key), null, 2)}\n`, { mode: 0o600, flag: "wx" });
  await chmod(path, 0o600); // the umask may have narrowed nothing, but never widened: make it exact
}

/** Reads and validates a key file; refuses one that others can read. */
export async function readKeyFile(path: string): Promise<KeyFile> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const parsed = keyFileSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue?.path.join(".") || "key file"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}
