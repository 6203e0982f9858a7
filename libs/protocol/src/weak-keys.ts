// Public keys that must never be registered, decided from their 32 bytes alone.
//
// Ed25519 (RFC 8032 §5.1.3): a point of small order (the 8 torsion points,
// the identity among them) makes forgeries possible — with OpenSSL 3, the
// identity point as a public key verifies R = identity, S = 0 for ANY message
// — and a non-canonical encoding (y ≥ p, or x = 0 with the sign bit set)
// gives one key two names. X25519 (RFC 7748): a low-order u-coordinate makes
// every shared secret one of a handful of known values (all zeros for u = 0),
// so whatever is sealed to it is public.

const P = 2n ** 255n - 19n;
/** Edwards25519's d = -121665/121666 mod p. */
const D = (-121665n * modPow(121666n, P - 2n)) % P;

/**
 * The y-coordinates of the eight torsion points (order 1, 2, 4 and 8): 1
 * (identity), p-1 (order 2), 0 (the two points of order 4) and ±y8 (the four
 * points of order 8). The same points as libsodium's `ge25519_has_small_order`
 * blocklist and Chalkias et al., "Taming the many EdDSAs" (2020), Table 6;
 * a test derives them from the curve.
 */
const Y8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y8, P - Y8]);

/**
 * The u-coordinates of X25519's low-order points (libsodium's
 * `has_small_order` blocklist, cr.yp.to/ecdh.html "validation"): 0, 1, p-1
 * and the two of order 8. Compared after reduction mod p, so the
 * non-canonical encodings u + p (which RFC 7748 says to accept) are refused too.
 */
const LOW_ORDER_U = new Set([
  0n,
  1n,
  P - 1n,
  0x00b8495f16056286fdb1329ceb8d09da6ac49ff1fae35616aeb8413b7c7aebe0n,
  0x57119fd0dd4e22d8868e1c58c45c44045bef839c55b1d0b1248c50a3bc959c5fn,
]);

export type Ed25519KeyProblem = "non_canonical" | "small_order" | "not_on_curve";

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = ((base % P) + P) % P;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

/**
 * The encoding checks alone — small order, non-canonical — the ones that make
 * forgeries or aliases: a few microseconds, cheap enough for every request's
 * keyid (an off-curve key fails the signature check anyway).
 */
export function ed25519EncodingProblem(key: Uint8Array): "non_canonical" | "small_order" | undefined {
  if (key.length !== 32) return "non_canonical";
  const y = littleEndian(key) & ((1n << 255n) - 1n);
  if (y >= P) return "non_canonical";
  return SMALL_ORDER_Y.has(y) ? "small_order" : undefined;
}

/**
 * Why a 32-byte Ed25519 public key must be refused at registration, or
 * undefined when it is a sound point: the encoding checks, then whether the
 * point is on the curve at all (two modular exponentiations, ≈ 1.7 ms).
 */
export function ed25519KeyProblem(key: Uint8Array): Ed25519KeyProblem | undefined {
  const encoding = ed25519EncodingProblem(key);
  if (encoding) return encoding;
  const y = littleEndian(key) & ((1n << 255n) - 1n);
  // x² = (y² - 1) / (d y² + 1): a point exists only when that is a square mod p (Euler's criterion).
  const y2 = (y * y) % P;
  const x2 = ((y2 - 1n + P) * modPow(D * y2 + 1n, P - 2n)) % P;
  // x = 0 only for y = ±1, refused above; so the sign bit may be either value here.
  return modPow(x2, (P - 1n) / 2n) === 1n ? undefined : "not_on_curve";
}

/** True when an X25519 public key (u-coordinate) is of low order, in any encoding. */
export function isLowOrderX25519(key: Uint8Array): boolean {
  if (key.length !== 32) return true;
  // RFC 7748 §5: the top bit is ignored, then u is taken mod p.
  const u = (littleEndian(key) & ((1n << 255n) - 1n)) % P;
  return LOW_ORDER_U.has(u);
}
