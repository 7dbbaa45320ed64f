/**
 * SHA-256 (FIPS 180-4) in plain TypeScript, synchronous and allocation-free
 * per message, for the UDP channel's HMAC. `node:crypto`'s `createHmac`
 * costs about 20 µs a call under Deno 2.9.6 (a hash object, several ops and
 * Buffer conversions per call), WebCrypto about 27 µs (a promise per call);
 * a datagram needs two (the request's MAC and the reply's). This module lets
 * {@linkcode ./hmac.ts} keep the two padded-key states of a principal's key
 * and hash only the datagram itself: a few microseconds.
 *
 * Checked against `node:crypto` and the FIPS/RFC 4231 vectors in
 * tests/udp_hmac_test.ts.
 *
 * @module
 */

/** Bytes in one SHA-256 block. */
export const BLOCK_BYTES = 64;
/** Bytes in a SHA-256 digest. */
export const DIGEST_BYTES = 32;

/** The first `count` primes. */
function primes(count: number): number[] {
  const found: number[] = [];
  for (let n = 2; found.length < count; n++) {
    if (found.every((p) => n % p !== 0)) found.push(n);
  }
  return found;
}

/** The first 32 bits of the fractional part of `x` (FIPS 180-4 §4.2.2 and §5.3.3). */
function fraction32(x: number): number {
  return ((x - Math.floor(x)) * 0x100000000) | 0;
}

/** Round constants: fractional parts of the cube roots of the first 64 primes. */
const K = Int32Array.from(primes(64), (p) => fraction32(Math.cbrt(p)));
/** Initial hash value: fractional parts of the square roots of the first 8 primes. */
const INITIAL = Int32Array.from(primes(8), (p) => fraction32(Math.sqrt(p)));

/** A running SHA-256 state (eight 32-bit words). */
export type HashState = Int32Array;

/** A fresh state holding the initial hash value. */
export function initialState(): HashState {
  return INITIAL.slice();
}

const schedule = new Int32Array(64);

/** Mixes the 64-byte block of `bytes` at `at` into `state`. */
export function compress(state: HashState, bytes: Uint8Array, at: number): void {
  const w = schedule;
  for (let i = 0; i < 16; i++) {
    const j = at + i * 4;
    w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!, b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

const tail = new Uint8Array(BLOCK_BYTES * 2);

/**
 * Finishes a hash: mixes `data` into `state` (which has already taken
 * `prefixBytes` bytes, a whole number of blocks), pads, and writes the
 * digest into `out` at `outAt`.
 */
export function finish(
  state: HashState,
  prefixBytes: number,
  data: Uint8Array,
  out: Uint8Array,
  outAt = 0,
): void {
  const whole = data.length - (data.length % BLOCK_BYTES);
  for (let at = 0; at < whole; at += BLOCK_BYTES) compress(state, data, at);
  const rest = data.length - whole;
  tail.fill(0);
  tail.set(data.subarray(whole), 0);
  tail[rest] = 0x80;
  const tailBytes = rest + 9 <= BLOCK_BYTES ? BLOCK_BYTES : BLOCK_BYTES * 2;
  // The length in bits, as a 64-bit big-endian number (messages here are far below 2^53 bits).
  const bits = (prefixBytes + data.length) * 8;
  const high = Math.floor(bits / 0x100000000);
  writeWord(tail, tailBytes - 8, high);
  writeWord(tail, tailBytes - 4, bits >>> 0);
  compress(state, tail, 0);
  if (tailBytes > BLOCK_BYTES) compress(state, tail, BLOCK_BYTES);
  for (let i = 0; i < 8; i++) writeWord(out, outAt + i * 4, state[i]!);
}

/** Zeroes the scratch space (after hashing key material, so none of it stays behind). */
export function clearScratch(): void {
  schedule.fill(0);
  tail.fill(0);
}

/** The SHA-256 digest of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(DIGEST_BYTES);
  finish(initialState(), 0, data, out);
  return out;
}

function writeWord(bytes: Uint8Array, at: number, word: number): void {
  bytes[at] = word >>> 24;
  bytes[at + 1] = word >>> 16;
  bytes[at + 2] = word >>> 8;
  bytes[at + 3] = word;
}
