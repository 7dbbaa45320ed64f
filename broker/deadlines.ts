/**
 * Ask deadlines grouped into 10 ms buckets: one timer per bucket instead of
 * one per request, so a busy hub does not create and clear a timer for
 * every command. A deadline fires at most one bucket late. A bucket whose
 * requests all finished early clears its timer, so nothing outlives the work.
 *
 * @module
 */

import { systemTimers, type Timers } from "./envelope.ts";

/** How wide one bucket is, in milliseconds. */
export const BUCKET_MS = 10;

interface Bucket {
  readonly cancel: () => void;
  readonly waiters: Set<() => void>;
}

/** Deadlines in buckets, each with one timer. */
export class Deadlines {
  readonly #buckets = new Map<number, Bucket>();
  readonly #timers: Timers;

  /** Deadlines on `timers` (real ones by default). */
  constructor(timers: Timers = systemTimers) {
    this.#timers = timers;
  }

  /** The clock deadlines are measured on. */
  now(): number {
    return this.#timers.now();
  }

  /**
   * Calls `onExpire` about `afterMs` from now (at most {@linkcode BUCKET_MS} later).
   *
   * @returns a function that cancels it
   */
  add(afterMs: number, onExpire: () => void): () => void {
    const now = this.#timers.now();
    const key = Math.ceil((now + afterMs) / BUCKET_MS);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      const waiters = new Set<() => void>();
      const cancel = this.#timers.after(key * BUCKET_MS - now, () => {
        this.#buckets.delete(key);
        for (const expire of waiters) expire();
      });
      bucket = { cancel, waiters };
      this.#buckets.set(key, bucket);
    }
    const { waiters, cancel } = bucket;
    waiters.add(onExpire);
    return () => {
      if (!waiters.delete(onExpire) || waiters.size > 0) return;
      if (this.#buckets.get(key)?.waiters === waiters) {
        this.#buckets.delete(key);
        cancel();
      }
    };
  }

  /** How many buckets (timers) are pending. */
  get pending(): number {
    return this.#buckets.size;
  }
}
