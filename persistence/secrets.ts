/**
 * Password and token hashing with scrypt (`node:crypto`), compared in
 * constant time. Only the salted hash is ever stored.
 *
 * Stored form: `scrypt$N$r$p$<salt base64>$<hash base64>`.
 *
 * @module
 */
import { randomBytes, scrypt, type ScryptOptions, scryptSync, timingSafeEqual } from "node:crypto";

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

/** Like {@linkcode hashSecret}, off the event loop (scrypt runs on a worker thread). */
export async function hashSecretAsync(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(secret, salt, KEY_LENGTH, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/**
 * Like {@linkcode verifySecret}, off the event loop: the hub's listeners and actors keep running
 * while scrypt works on a worker thread. Never rejects.
 *
 * @example
 * ```ts
 * if (await verifySecretAsync(token, storedHash)) login();
 * ```
 */
export async function verifySecretAsync(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, n, r, p, saltText, hashText] = parts as [string, string, string, string, string, string];
  try {
    const expected = Buffer.from(hashText, "base64");
    const actual = await scryptAsync(secret, Buffer.from(saltText, "base64"), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
    });
    return timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}

function scryptAsync(
  secret: string,
  salt: Buffer,
  length: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** A new random secret, URL-safe, with `bytes` bytes of entropy. */
export function generateSecret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}
