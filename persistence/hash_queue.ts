/**
 * A bound on the hub's slow hash work (scrypt), shared fairly between
 * source addresses: at most `concurrency` hashes run at once, a bounded
 * number wait, and each source may hold only a few of the places. Waiting
 * work is started round-robin by source, sources with fewer hashes running
 * first, so a source that sends many wrong secrets delays another source's
 * check by at most the hash that frees a place, never by its backlog. Work
 * beyond the bounds is refused at once (`throttled`) and costs nothing.
 *
 * @example Two hashes at a time, eight waiting, two places per address
 * ```ts
 * const queue = new HashQueue({ concurrency: 2, maxWaiting: 8, maxPerSource: 2 });
 * const result = await queue.run("127.0.0.1", () => verifySecretAsync(secret, stored));
 * if (result === HashQueue.THROTTLED) reply("rate_limited");
 * ```
 *
 * @module
 */

/** Bounds of a {@linkcode HashQueue}. */
export interface HashQueueOptions {
  /** Hashes running at once, hub-wide. */
  readonly concurrency: number;
  /** Hashes waiting to run, hub-wide. */
  readonly maxWaiting: number;
  /** Places (running and waiting) one source may hold. */
  readonly maxPerSource: number;
}

/** The bounds the hub uses: two hashes at once (this machine class has two cores). */
export const DEFAULT_HASH_QUEUE: HashQueueOptions = {
  concurrency: 2,
  maxWaiting: 64,
  maxPerSource: 4,
};

interface Job {
  readonly start: () => void;
}

/** Runs slow hash work within hub-wide and per-source bounds, round-robin between sources. */
export class HashQueue {
  /** What {@linkcode HashQueue.run} resolves to when the work was refused. */
  static readonly THROTTLED: unique symbol = Symbol("throttled");

  readonly #options: HashQueueOptions;
  /** Waiting jobs per source; the map's order is the round-robin order. */
  readonly #waiting = new Map<string, Job[]>();
  /** Places held (running and waiting) per source. */
  readonly #held = new Map<string, number>();
  /** Hashes running per source. */
  readonly #runningBy = new Map<string, number>();
  #running = 0;
  #waitingCount = 0;
  #refused = 0;

  /** @param options hub-wide and per-source bounds */
  constructor(options: HashQueueOptions = DEFAULT_HASH_QUEUE) {
    for (const [name, value] of Object.entries(options)) {
      if (!Number.isInteger(value) || value < (name === "maxWaiting" ? 0 : 1)) {
        throw new RangeError(`HashQueue ${name} must be a positive integer, got ${value}`);
      }
    }
    this.#options = options;
  }

  /** Hashes running now. */
  get running(): number {
    return this.#running;
  }

  /** Hashes waiting now. */
  get waiting(): number {
    return this.#waitingCount;
  }

  /** Work refused since creation. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Runs `work` when a place is free, or refuses it at once when `source` holds its share or
   * the queue is full.
   *
   * @returns what `work` resolved to, or {@linkcode HashQueue.THROTTLED}
   */
  run<T>(source: string, work: () => Promise<T>): Promise<T | typeof HashQueue.THROTTLED> {
    const held = this.#held.get(source) ?? 0;
    const canRun = this.#running < this.#options.concurrency;
    if (
      held >= this.#options.maxPerSource ||
      (!canRun && this.#waitingCount >= this.#options.maxWaiting)
    ) {
      this.#refused++;
      return Promise.resolve(HashQueue.THROTTLED);
    }
    this.#held.set(source, held + 1);
    const { promise, resolve, reject } = Promise.withResolvers<T | typeof HashQueue.THROTTLED>();
    const job: Job = {
      start: () => {
        this.#running++;
        this.#runningBy.set(source, (this.#runningBy.get(source) ?? 0) + 1);
        work().then(resolve, reject).finally(() => {
          this.#running--;
          decrement(this.#runningBy, source);
          decrement(this.#held, source);
          this.#next();
        });
      },
    };
    if (canRun) job.start();
    else {
      const list = this.#waiting.get(source);
      if (list) list.push(job);
      else this.#waiting.set(source, [job]);
      this.#waitingCount++;
    }
    return promise;
  }

  /**
   * Starts the next waiting jobs: sources in turn, and among them first those with the fewest
   * hashes running, so that a source with nothing running does not wait behind a busy one.
   */
  #next(): void {
    while (this.#running < this.#options.concurrency && this.#waitingCount > 0) {
      let pick: [string, Job[]] | undefined;
      let fewest = Infinity;
      // At most maxWaiting sources wait, so this scan is bounded.
      for (const entry of this.#waiting) {
        const running = this.#runningBy.get(entry[0]) ?? 0;
        if (running < fewest) [pick, fewest] = [entry, running];
        if (running === 0) break;
      }
      if (pick === undefined) return;
      const [source, list] = pick;
      const job = list.shift();
      this.#waiting.delete(source);
      // The source goes to the back of the turn order when it has more waiting.
      if (list.length > 0) this.#waiting.set(source, list);
      if (job === undefined) continue;
      this.#waitingCount--;
      job.start();
    }
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left <= 0) counts.delete(key);
  else counts.set(key, left);
}
