/**
 * An actor's restart bookkeeping (OTP's restart intensity): the restart
 * times within the window, and the backoff before the next restart
 * (doubling per consecutive failure, capped).
 *
 * @module
 */

/** The limits a restart policy keeps to. */
export interface RestartLimits {
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
}

/** Restart intensity and backoff for one actor. */
export class RestartPolicy {
  readonly #limits: RestartLimits;
  #restartTimes: number[] = [];
  #consecutiveFailures = 0;

  constructor(limits: RestartLimits) {
    this.#limits = limits;
  }

  /** Records one restart at `now`; false when that makes more than `maxRestarts` in the window. */
  withinIntensity(now: number): boolean {
    const since = now - this.#limits.restartWindowMs;
    this.#restartTimes = this.#restartTimes.filter((t) => t > since);
    this.#restartTimes.push(now);
    return this.#restartTimes.length <= this.#limits.maxRestarts;
  }

  /** Counts one more consecutive failure and gives the backoff before restarting. */
  nextBackoffMs(): number {
    this.#consecutiveFailures++;
    return Math.min(
      this.#limits.backoffMaxMs,
      this.#limits.backoffInitialMs * 2 ** (this.#consecutiveFailures - 1),
    );
  }

  /** A message was handled: the next failure starts the backoff from the beginning. */
  succeeded(): void {
    this.#consecutiveFailures = 0;
  }
}
