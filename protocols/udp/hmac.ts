/**
 * HMAC-SHA256 signing and constant-time checking for the UDP channel
 * (`node:crypto`, synchronous: a few microseconds per datagram, where
 * WebCrypto's promise-based `subtle.sign` costs several times more).
 *
 * @module
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";

/** Length of an HMAC-SHA256 tag in bytes. */
export const MAC_BYTES = 32;

/** A signing key prepared once and reused for every datagram of one principal. */
export type SigningKey = KeyObject;

/**
 * Prepares a raw key (for the hub: the 32 bytes of the principal's UDP key).
 *
 * @example Prepare a key from hex
 * ```ts
 * const key = signingKey(Buffer.from("61646d696e...", "hex"));
 * ```
 */
export function signingKey(raw: Uint8Array): SigningKey {
  return createSecretKey(raw);
}

/** Parses a key written as hex (64 characters for 32 bytes); undefined when it is not hex. */
export function signingKeyFromHex(hex: string): SigningKey | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  return signingKey(Uint8Array.from(Buffer.from(hex, "hex")));
}

/** The HMAC-SHA256 tag of `data` under `key`. */
export function hmacSha256(key: SigningKey, data: Uint8Array): Uint8Array {
  return createHmac("sha256", key).update(data).digest();
}

/** True when `tag` is the HMAC-SHA256 of `data` under `key`; compares in constant time. */
export function verifyHmacSha256(key: SigningKey, data: Uint8Array, tag: Uint8Array): boolean {
  if (tag.length !== MAC_BYTES) return false;
  return timingSafeEqual(hmacSha256(key, data), tag);
}
