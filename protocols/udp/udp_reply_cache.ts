/**
 * Recent replies of the UDP channel by (principal, message id), so that a
 * retransmitted request gets the same reply and is applied once. Bounded in
 * count and in time; an entry is `pending` while its request is being
 * applied, so a retransmission that arrives meanwhile is not applied again.
 *
 * @module
 */

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

/** A bounded map from (principal, id) to the reply given. */
export class ReplyCache {
  readonly #capacity: number;
  readonly #ttl: number;
  readonly #entries = new Map<string, CachedReply>();

  /** Creates an empty cache. */
  constructor(options: ReplyCacheOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(
        `Reply cache capacity must be a positive integer, got ${options.capacity}`,
      );
    }
    this.#capacity = options.capacity;
    this.#ttl = options.ttlSeconds;
  }

  /** How many entries it holds. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry of (principal, id), unless missing or expired. */
  get(principal: string, id: string, nowSeconds: number): CachedReply | undefined {
    const key = principal + " " + id;
    const entry = this.#entries.get(key);
    if (entry?.state === "done" && entry.expires < nowSeconds) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Marks (principal, id) as being applied now. */
  begin(principal: string, id: string, fingerprint: string): void {
    this.#makeRoom();
    this.#entries.set(principal + " " + id, { state: "pending", fingerprint });
  }

  /** Remembers the reply given to (principal, id). */
  complete(
    principal: string,
    id: string,
    entry: { fingerprint: string; reply: Uint8Array; address: string; nowSeconds: number },
  ): void {
    const key = principal + " " + id;
    this.#entries.delete(key); // re-insert: the newest go last
    this.#makeRoom();
    this.#entries.set(key, {
      state: "done",
      fingerprint: entry.fingerprint,
      reply: entry.reply,
      address: entry.address,
      expires: entry.nowSeconds + this.#ttl,
    });
  }

  /** Forgets (principal, id): its request had no effect and may be sent again. */
  abandon(principal: string, id: string): void {
    this.#entries.delete(principal + " " + id);
  }

  #makeRoom(): void {
    // Oldest first; pending entries are skipped (their requests are in flight and few).
    if (this.#entries.size < this.#capacity) return;
    for (const [key, entry] of this.#entries) {
      if (entry.state === "done") {
        this.#entries.delete(key);
        return;
      }
    }
  }
}
