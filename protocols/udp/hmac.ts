/**
 * HMAC-SHA256 (RFC 2104) signing and constant-time checking for the UDP
 * channel, synchronous. A {@linkcode SigningKey} keeps the SHA-256 states
 * after its two padded key blocks, so each datagram costs only the hashing
 * of its own bytes plus one block (a few microseconds; `node:crypto`'s
 * `createHmac` costs about 20 µs a call under Deno, WebCrypto's promise-based
 * `subtle.sign` more). The hashing itself is in `sha256.ts`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  BLOCK_BYTES,
  clearScratch,
  compress,
  DIGEST_BYTES,
  finish,
  type HashState,
  initialState,
  sha256,
} from "./sha256.ts";

/** Length of an HMAC-SHA256 tag in bytes. */
export const MAC_BYTES = DIGEST_BYTES;

const HEX_DIGITS = new TextEncoder().encode("0123456789abcdef");

/** A signing key prepared once and reused for every datagram of one principal. */
export class SigningKey {
  readonly #inner: HashState;
  readonly #outer: HashState;
  readonly #work = new Int32Array(8);
  readonly #innerDigest = new Uint8Array(DIGEST_BYTES);
  readonly #tag = new Uint8Array(DIGEST_BYTES);

  /** Prepares `raw` (any length; keys longer than a block are hashed first, as RFC 2104 says). */
  constructor(raw: Uint8Array) {
    const block = new Uint8Array(BLOCK_BYTES);
    block.set(raw.length > BLOCK_BYTES ? sha256(raw) : raw);
    this.#inner = padded(block, 0x36);
    this.#outer = padded(block, 0x5c);
    block.fill(0);
    clearScratch();
  }

  /** Writes the HMAC-SHA256 tag of `data` into `out` (32 bytes) at `at`. */
  signInto(data: Uint8Array, out: Uint8Array, at = 0): void {
    const work = this.#work;
    work.set(this.#inner);
    finish(work, BLOCK_BYTES, data, this.#innerDigest);
    work.set(this.#outer);
    finish(work, BLOCK_BYTES, this.#innerDigest, out, at);
  }

  /** The HMAC-SHA256 tag of `data`. */
  sign(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(MAC_BYTES);
    this.signInto(data, out);
    return out;
  }

  /**
   * Writes the tag of `data` as 64 lowercase hex digits (ASCII) into `out`
   * at `at`.
   */
  signHexInto(data: Uint8Array, out: Uint8Array, at: number): void {
    const tag = this.#tag;
    this.signInto(data, tag);
    for (let i = 0; i < MAC_BYTES; i++) {
      out[at + i * 2] = HEX_DIGITS[tag[i]! >>> 4]!;
      out[at + i * 2 + 1] = HEX_DIGITS[tag[i]! & 15]!;
    }
  }

  /**
   * True when `hex` (64 ASCII bytes) is the tag of `data` in lowercase hex;
   * compares every byte whatever the first difference (constant time).
   */
  verifyHex(data: Uint8Array, hex: Uint8Array): boolean {
    if (hex.length !== MAC_BYTES * 2) return false;
    const tag = this.#tag;
    this.signInto(data, tag);
    let difference = 0;
    for (let i = 0; i < MAC_BYTES; i++) {
      difference |= (hex[i * 2]! ^ HEX_DIGITS[tag[i]! >>> 4]!) |
        (hex[i * 2 + 1]! ^ HEX_DIGITS[tag[i]! & 15]!);
    }
    return difference === 0;
  }
}

/** The SHA-256 state after the key block XORed with `pad`. */
function padded(block: Uint8Array, pad: number): HashState {
  const bytes = block.map((b) => b ^ pad);
  const state = initialState();
  compress(state, bytes, 0);
  bytes.fill(0);
  return state;
}

/**
 * Prepares a raw key (for the hub: the 32 bytes of the principal's UDP key).
 *
 * @example Prepare a key from hex
 * ```ts
 * const key = signingKey(Buffer.from("61646d696e...", "hex"));
 * ```
 */
export function signingKey(raw: Uint8Array): SigningKey {
  return new SigningKey(raw);
}

/** Parses a key written as hex (64 characters for 32 bytes); undefined when it is not hex. */
export function signingKeyFromHex(hex: string): SigningKey | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  return signingKey(Uint8Array.from(Buffer.from(hex, "hex")));
}

/** The HMAC-SHA256 tag of `data` under `key`. */
export function hmacSha256(key: SigningKey, data: Uint8Array): Uint8Array {
  return key.sign(data);
}

/** True when `tag` is the HMAC-SHA256 of `data` under `key`; compares in constant time. */
export function verifyHmacSha256(key: SigningKey, data: Uint8Array, tag: Uint8Array): boolean {
  if (tag.length !== MAC_BYTES) return false;
  const expected = key.sign(data);
  let difference = 0;
  for (let i = 0; i < MAC_BYTES; i++) difference |= expected[i]! ^ tag[i]!;
  return difference === 0;
}
