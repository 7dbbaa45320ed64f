/**
 * A test clock: time moves only when the test says so, and timers fire in
 * order as it passes them. Both a {@linkcode Clock} and {@linkcode Timers}.
 *
 * @module
 */
import type { Clock, Timers } from "../../broker/envelope.ts";

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

/** Time that moves by {@linkcode ManualClock.advance} only. */
export class ManualClock implements Clock, Timers {
  #now: number;
  #seq = 0;
  #pending: Pending[] = [];

  /** Starts at `start` ms. */
  constructor(start = 1_800_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  after(ms: number, fire: () => void): () => void {
    const entry = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fire };
    this.#pending.push(entry);
    return () => {
      this.#pending = this.#pending.filter((p) => p !== entry);
    };
  }

  /** Moves time on by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    while (true) {
      const due = this.#pending.filter((p) =>
        p.at <= end
      ).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.#pending = this.#pending.filter((p) => p !== due);
      this.#now = due.at;
      due.fire();
    }
    this.#now = end;
  }

  /** Timers not fired yet. */
  get pending(): number {
    return this.#pending.length;
  }
}
