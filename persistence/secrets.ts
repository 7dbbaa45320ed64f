/**
 * Password and token hashing with scrypt (`node:crypto`), compared in
 * constant time. Only the salted hash is ever stored.
 *
 * Stored form: `scrypt$N$r$p$<salt base64>$<hash base64>`.
 *
 * @module
 */
import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";

const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

/** Hashes a secret with a fresh 16-byte salt. */
export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, KEY_LENGTH, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/** True when `secret` matches `stored` (a {@linkcode hashSecret} string). Never throws. */
export function verifySecret(secret: string, stored: string): boolean {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, n, r, p, saltText, hashText] = parts as [string, string, string, string, string, string];
  try {
    const expected = Buffer.from(hashText, "base64");
    const actual = scryptSync(secret, Buffer.from(saltText, "base64"), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
    });
    return timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}

/** A new random secret, URL-safe, with `bytes` bytes of entropy. */
export function generateSecret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}
