/**
 * A fixed-bucket histogram, in the shape Prometheus exposes.
 *
 * @module
 */

/** Default bucket upper bounds in milliseconds. */
export const DEFAULT_MS_BOUNDS: readonly number[] = [
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
];

/** Counts observations per bucket; the last bucket is +Inf. */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;

  /** @param bounds ascending upper bounds; +Inf is added */
  constructor(bounds: readonly number[] = DEFAULT_MS_BOUNDS) {
    this.bounds = bounds;
    this.#counts = new Array(bounds.length + 1).fill(0);
  }

  /** Records one observation. */
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
  }

  /** A copy of the per-bucket (not cumulative) counts and the sum. */
  snapshot(): { bounds: readonly number[]; counts: readonly number[]; sum: number } {
    return { bounds: this.bounds, counts: [...this.#counts], sum: this.#sum };
  }
}
