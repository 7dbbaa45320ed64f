/**
 * A keyed token-bucket rate limiter with bounded memory, for any channel:
 * commands per principal (TLS), datagrams per address (UDP), logins per
 * address (FTP). Each key refills at `ratePerSecond` up to `burst` tokens.
 * Time comes from an injectable clock, so tests need no sleeps. Buckets live
 * in a least-recently-used map (`npm:lru-cache`): when it is full, a new key
 * evicts the key used longest ago in O(1), so a flood of new keys (spoofed
 * UDP source addresses) costs the same per key however many are remembered,
 * and a key in active use (the flooder's own) is the last to be forgotten.
 *
 * @example Ten commands a second per principal
 * ```ts
 * const limiter = new RateLimiter({ ratePerSecond: 10 });
 * if (!limiter.take("kitchen-panel")) reply("rate_limited");
 * ```
 *
 * @module
 */
import { LRUCache } from "lru-cache";
import { type Clock, systemClock } from "../broker/envelope.ts";

/** Options for {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens added per second to each key's bucket. */
  readonly ratePerSecond: number;
  /** Most tokens a bucket holds (the largest burst); defaults to `ratePerSecond`. */
  readonly burst?: number;
  /**
   * Most keys remembered at once (default 65 536). When full, the key used longest ago is
   * forgotten; a forgotten key starts again with a full bucket.
   */
  readonly maxKeys?: number;
  readonly clock?: Clock;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/** A token bucket per key. */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Clock;
  readonly #buckets: LRUCache<string, Bucket>;
  #refused = 0;

  /** @param options rate, burst, memory bound and clock */
  constructor(options: RateLimiterOptions) {
    if (!(options.ratePerSecond > 0)) {
      throw new RangeError(`ratePerSecond must be positive, got ${options.ratePerSecond}`);
    }
    this.#rate = options.ratePerSecond;
    this.#burst = Math.max(1, options.burst ?? options.ratePerSecond);
    // `maxSize` with a size of 1 per entry bounds the count like `max` does, but grows its
    // storage as keys arrive instead of allocating room for every key up front (1.5 MiB each).
    this.#buckets = new LRUCache({
      maxSize: Math.max(1, options.maxKeys ?? 65_536),
      sizeCalculation: () => 1,
    });
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Takes `cost` tokens from `key`'s bucket.
   *
   * @returns true when allowed, false when the key is over its rate
   */
  take(key: string, cost = 1): boolean {
    const now = this.#clock.now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, updated: now };
      this.#buckets.set(key, bucket);
    } else {
      this.#refill(bucket, now);
    }
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return true;
    }
    this.#refused++;
    return false;
  }

  /** Milliseconds until `key` has `cost` tokens again (0 when it has them now). */
  retryAfterMs(key: string, cost = 1): number {
    const bucket = this.#buckets.peek(key);
    if (bucket === undefined) return 0;
    this.#refill(bucket, this.#clock.now());
    const missing = cost - bucket.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.#rate) * 1000);
  }

  /** How many keys are remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** How many `take` calls were refused since creation. */
  get refused(): number {
    return this.#refused;
  }

  #refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updated) / 1000;
    bucket.tokens = Math.min(this.#burst, bucket.tokens + elapsed * this.#rate);
    bucket.updated = now;
  }
}
