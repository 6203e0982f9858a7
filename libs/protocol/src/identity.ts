import { z } from "zod";
import { ed25519EncodingProblem, ed25519KeyProblem, isLowOrderX25519 } from "./weak-keys.ts";

/** Tenant ids: lowercase, no dots or slashes (they become subject tokens and path parts). */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const tenantId = z.string().regex(TENANT_PATTERN, "tenant must match ^[a-z0-9][a-z0-9_-]{0,62}$");

/** A raw 32-byte key in unpadded base64url (`sign_pub`, `kex_pub`, `keyid`): exactly 43 characters. */
export const publicKey32 = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, "must be a 32-byte key in unpadded base64url (43 characters)")
  .refine((s) => Buffer.from(s, "base64url").toString("base64url") === s, "must be canonical base64url");

const keyBytes = (s: string) => Buffer.from(s, "base64url");

/** A `sign_pub` schema refusing what `problemOf` finds, naming the problem (400 names the field). */
const ed25519Key = (problemOf: (key: Uint8Array) => string | undefined) =>
  publicKey32.superRefine((s, ctx) => {
    const problem = problemOf(keyBytes(s));
    if (problem) ctx.addIssue({ code: "custom", message: `refused Ed25519 key (${problem.replaceAll("_", " ")})` });
  });

/**
 * A `sign_pub` being registered: a sound Ed25519 point. Small-order and
 * non-canonical points are refused (with OpenSSL 3 the identity point
 * verifies a forged signature for any message), and points off the curve.
 */
export const signPublicKey = ed25519Key(ed25519KeyProblem);

/**
 * A `sign_pub` naming a user in a request (an invitee, the keys of a rekey's
 * `sealed_keys`): the encoding checks only (microseconds), since a body may
 * carry thousands of them and the full check (≈ 1.5 ms) ran at registration.
 */
export const signPublicKeyRef = ed25519Key(ed25519EncodingProblem);

/** A `kex_pub` as it arrives: an X25519 key of low order would make every key sealed to it public. */
export const kexPublicKey = publicKey32.refine(
  (s) => !isLowOrderX25519(keyBytes(s)),
  "refused X25519 key (low order: every secret shared with it is known)",
);

/** `operator`: every tenant (the bootstrap identity); `admin`: its own tenant; `member`: itself. */
export const role = z.enum(["operator", "admin", "member"]);
export type Role = z.infer<typeof role>;
export const scope = z.string().regex(/^[a-z][a-z0-9_.:-]{0,63}$/, "scopes are lowercase words such as rooms:write");
