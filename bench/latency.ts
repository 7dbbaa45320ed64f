/**
 * Closed-loop latency samples and their summary (count, rate, p50, p99).
 *
 * @module
 */

/** Collects latencies in milliseconds, bounded in count. */
export class LatencyRecorder {
  readonly #samples: number[] = [];
  readonly #limit: number;
  #count = 0;

  /** @param limit most samples kept (later ones replace random earlier ones) */
  constructor(limit = 200_000) {
    this.#limit = limit;
  }

  /** Records one latency. */
  record(ms: number): void {
    this.#count++;
    if (this.#samples.length < this.#limit) this.#samples.push(ms);
    else {
      const slot = Math.floor(Math.random() * this.#count);
      if (slot < this.#limit) this.#samples[slot] = ms;
    }
  }

  /** How many latencies were recorded. */
  get count(): number {
    return this.#count;
  }

  /** The `q` quantile (0..1) in ms, or NaN when empty. */
  quantile(q: number): number {
    if (this.#samples.length === 0) return Number.NaN;
    const sorted = [...this.#samples].sort((a, b) => a - b);
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[index]!;
  }
}

/** Throughput and latency of one closed-loop run. */
export interface LoopFigures {
  /** Completed operations per second. */
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly completed: number;
  /** Operations that got an error or no answer. */
  readonly errors: number;
  readonly seconds: number;
}

/** Summarises a recorder over `seconds` of wall time. */
export function summarise(recorder: LatencyRecorder, seconds: number, errors: number): LoopFigures {
  return {
    rate: recorder.count / seconds,
    p50Ms: recorder.quantile(0.5),
    p99Ms: recorder.quantile(0.99),
    completed: recorder.count,
    errors,
    seconds,
  };
}
