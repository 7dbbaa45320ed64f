/**
 * Recent replies of the UDP channel by (principal, message id), so that a
 * retransmitted request gets the same reply and is applied once. Bounded in
 * count and in time; an entry is `pending` while its request is being
 * applied, so a retransmission that arrives meanwhile is not applied again.
 *
 * @module
 */
import { LRUCache } from "lru-cache";

/** What the cache holds for one (principal, id). */
export type CachedReply =
  | { readonly state: "pending"; readonly fingerprint: string }
  | {
    readonly state: "done";
    readonly fingerprint: string;
    /** The exact reply bytes sent the first time. */
    readonly reply: Uint8Array;
    /** Where the first reply went (`host:port`): only that address gets it again. */
    readonly address: string;
    /** Seconds (hub clock) after which the entry is forgotten. */
    readonly expires: number;
  };

/** Options for {@linkcode ReplyCache}. */
export interface ReplyCacheOptions {
  /** Most replies remembered. */
  readonly capacity: number;
  /** How long a reply is remembered, in seconds. */
  readonly ttlSeconds: number;
}

/**
 * A bounded map from (principal, id) to the reply given. Pending entries are
 * kept apart (their requests are in flight, and the listener bounds how many
 * are); done replies live in a least-recently-inserted map (`npm:lru-cache`)
 * of `capacity` entries, so making room is O(1) and never drops a pending
 * entry.
 */
export class ReplyCache {
  readonly #ttl: number;
  readonly #pending = new Map<string, CachedReply & { state: "pending" }>();
  readonly #done: LRUCache<string, CachedReply & { state: "done" }>;

  /** Creates an empty cache. */
  constructor(options: ReplyCacheOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(
        `Reply cache capacity must be a positive integer, got ${options.capacity}`,
      );
    }
    this.#ttl = options.ttlSeconds;
    // A size of 1 each bounds the count like `max`, without allocating every slot up front.
    this.#done = new LRUCache({ maxSize: options.capacity, sizeCalculation: () => 1 });
  }

  /** How many entries it holds. */
  get size(): number {
    return this.#pending.size + this.#done.size;
  }

  /** The entry of (principal, id), unless missing or expired. */
  get(principal: string, id: string, nowSeconds: number): CachedReply | undefined {
    const key = principal + " " + id;
    const pending = this.#pending.get(key);
    if (pending !== undefined) return pending;
    // `peek`: a lookup does not make an entry younger; the oldest reply goes first.
    const done = this.#done.peek(key);
    if (done !== undefined && done.expires < nowSeconds) {
      this.#done.delete(key);
      return undefined;
    }
    return done;
  }

  /** Marks (principal, id) as being applied now. */
  begin(principal: string, id: string, fingerprint: string): void {
    const key = principal + " " + id;
    this.#done.delete(key);
    this.#pending.set(key, { state: "pending", fingerprint });
  }

  /** Remembers the reply given to (principal, id). */
  complete(
    principal: string,
    id: string,
    entry: { fingerprint: string; reply: Uint8Array; address: string; nowSeconds: number },
  ): void {
    const key = principal + " " + id;
    this.#pending.delete(key);
    this.#done.delete(key); // re-insert: the newest go last
    this.#done.set(key, {
      state: "done",
      fingerprint: entry.fingerprint,
      reply: entry.reply,
      address: entry.address,
      expires: entry.nowSeconds + this.#ttl,
    });
  }

  /** Forgets (principal, id): its request had no effect and may be sent again. */
  abandon(principal: string, id: string): void {
    const key = principal + " " + id;
    this.#pending.delete(key);
    this.#done.delete(key);
  }
}
