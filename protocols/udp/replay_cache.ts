/**
 * Remembers the nonces of recently accepted datagrams so that a replayed one
 * is refused, in bounded memory.
 *
 * A nonce only needs remembering while its timestamp is inside the time
 * window (older datagrams are refused as stale anyway), so entries expire
 * with the window. When the cache is full before they expire, the oldest is
 * evicted and its principal's *floor* rises to its timestamp: from then on,
 * that principal's datagrams stamped at or before the floor are refused.
 * Memory stays bounded and no replay ever gets through; the price, only
 * under a flood, is that a late honest datagram may be refused and must be
 * re-sent with a fresh timestamp.
 *
 * The nonces live in a bounded map (`npm:lru-cache`, in insertion order:
 * lookups do not reorder it), so eviction is O(1) and expiry touches only
 * the entries that leave the window.
 *
 * @module
 */
import { LRUCache } from "lru-cache";

/** What {@linkcode ReplayCache.check} found. */
export type ReplayVerdict =
  /** Never seen: now remembered. */
  | "fresh"
  /** This principal already used this nonce inside the window. */
  | "replayed"
  /** At or before the principal's floor: cannot be told apart from a replay. */
  | "below_floor";

/** Options for {@linkcode ReplayCache}. */
export interface ReplayCacheOptions {
  /** Most nonces remembered. */
  readonly capacity: number;
  /** The accepted clock skew in seconds: entries older than this are forgotten. */
  readonly windowSeconds: number;
}

/** A bounded set of (principal, nonce) pairs seen inside the time window. */
export class ReplayCache {
  readonly #windowSeconds: number;
  /** `principal nonce` → timestamp, in insertion order (only `set` reorders, and once). */
  readonly #seen: LRUCache<string, number>;
  readonly #floors = new Map<string, number>();
  #evictions = 0;
  /** The hub second of the last expiry pass (NaN before the first). */
  #expiredAt = Number.NaN;

  /** Creates an empty cache. */
  constructor(options: ReplayCacheOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(
        `Replay cache capacity must be a positive integer, got ${options.capacity}`,
      );
    }
    this.#windowSeconds = options.windowSeconds;
    this.#seen = new LRUCache<string, number>({
      // A size of 1 each bounds the count like `max`, without allocating every slot up front.
      maxSize: options.capacity,
      sizeCalculation: () => 1,
      dispose: (timestamp, key, reason) => {
        if (reason === "evict") this.#evicted(key, timestamp);
      },
    });
  }

  /** How many nonces are remembered now. */
  get size(): number {
    return this.#seen.size;
  }

  /** How many unexpired nonces were evicted because the cache was full. */
  get evictions(): number {
    return this.#evictions;
  }

  /**
   * Checks a datagram's nonce and remembers it when fresh.
   *
   * @param timestamp the datagram's timestamp (seconds), already checked against the window
   * @param nowSeconds the hub's clock (seconds)
   */
  check(principal: string, nonce: string, timestamp: number, nowSeconds: number): ReplayVerdict {
    this.#expire(nowSeconds);
    const key = principal + " " + nonce;
    if (this.#seen.has(key)) return "replayed";
    const floor = this.#floors.get(principal);
    if (floor !== undefined && timestamp <= floor) return "below_floor";
    this.#seen.set(key, timestamp); // evicts the oldest when full (see #evicted)
    return "fresh";
  }

  /**
   * Forgets a nonce that was remembered but whose datagram had no effect
   * (the hub was busy), so that the device may send the same datagram again.
   */
  forget(principal: string, nonce: string): void {
    this.#seen.delete(principal + " " + nonce);
  }

  /**
   * Drops entries that left the window, from the oldest insertion on. Runs
   * once per hub second: within one second the limit does not move, and every
   * entry added meanwhile is inside the window (its timestamp was checked
   * against it), so a second pass would find nothing.
   */
  #expire(nowSeconds: number): void {
    if (nowSeconds === this.#expiredAt) return;
    this.#expiredAt = nowSeconds;
    const limit = nowSeconds - this.#windowSeconds;
    // Insertion order is nearly timestamp order; stop at the first live entry.
    const expired: string[] = [];
    for (const key of this.#seen.rkeys()) {
      const timestamp = this.#seen.peek(key);
      if (timestamp !== undefined && timestamp >= limit) break;
      expired.push(key);
    }
    for (const key of expired) this.#seen.delete(key);
    for (const [principal, floor] of this.#floors) {
      if (floor < limit) this.#floors.delete(principal);
    }
  }

  /** The cache was full and forgot `key`: its principal's floor rises to its timestamp. */
  #evicted(key: string, timestamp: number): void {
    this.#evictions++;
    const principal = key.slice(0, key.indexOf(" "));
    const floor = this.#floors.get(principal);
    if (floor === undefined || timestamp > floor) this.#floors.set(principal, timestamp);
  }
}
