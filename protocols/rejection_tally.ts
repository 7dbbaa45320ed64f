/**
 * Counts rejections that are too many to audit one by one (a flood), per
 * address and reason, and hands them out as summaries at most once per
 * interval. Memory is bounded: past `maxKeys` distinct keys, further
 * rejections are counted under one overflow key.
 *
 * @module
 */

/** One summary: how many of one kind of rejection came from one address. */
export interface TallySummary {
  readonly address: string;
  readonly reason: string;
  readonly count: number;
  /** Milliseconds since the epoch of the first and last rejection counted. */
  readonly firstMs: number;
  readonly lastMs: number;
}

/** Options for {@linkcode RejectionTally}. */
export interface RejectionTallyOptions {
  /** Most (address, reason) pairs counted separately. */
  readonly maxKeys?: number;
  /** Shortest time between two flushes, in ms. */
  readonly intervalMs?: number;
}

const OVERFLOW = "*";

/** Counts rejections per (address, reason) between flushes. */
export class RejectionTally {
  readonly #maxKeys: number;
  readonly #intervalMs: number;
  readonly #counts = new Map<string, { count: number; firstMs: number; lastMs: number }>();
  #lastFlushMs = 0;

  /** Creates an empty tally. */
  constructor(options: RejectionTallyOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 1024;
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  /** Counts one rejection. */
  note(address: string, reason: string, nowMs: number): void {
    let key = address + " " + reason;
    if (!this.#counts.has(key) && this.#counts.size >= this.#maxKeys) key = OVERFLOW + " " + reason;
    const entry = this.#counts.get(key);
    if (entry) {
      entry.count++;
      entry.lastMs = nowMs;
    } else this.#counts.set(key, { count: 1, firstMs: nowMs, lastMs: nowMs });
  }

  /** True when nothing is counted. */
  get empty(): boolean {
    return this.#counts.size === 0;
  }

  /** The summaries counted so far, when the interval passed (or `force`); then starts afresh. */
  flush(nowMs: number, force = false): TallySummary[] {
    if (this.#counts.size === 0) return [];
    if (!force && this.#lastFlushMs === 0) {
      // The first summary covers a whole interval too.
      this.#lastFlushMs = nowMs;
      return [];
    }
    if (!force && nowMs - this.#lastFlushMs < this.#intervalMs) return [];
    this.#lastFlushMs = nowMs;
    const out: TallySummary[] = [];
    for (const [key, entry] of this.#counts) {
      const space = key.lastIndexOf(" ");
      out.push({ address: key.slice(0, space), reason: key.slice(space + 1), ...entry });
    }
    this.#counts.clear();
    return out;
  }
}
