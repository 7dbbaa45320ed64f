/**
 * A transfer progress bar for the CLI: bytes so far, percent and a bar when
 * the total is known, and the rate. On a terminal it redraws one line; into a
 * file or pipe it writes one line per update. At most ~10 updates a second;
 * `finish` always draws the last state and ends the line.
 *
 * @module
 */

/** Where the bar writes and how it reads the clock (for tests). */
export interface ProgressBarOptions {
  /** Redraw in place (`\r`) instead of one line per update. */
  readonly terminal: boolean;
  readonly write: (text: string) => void;
  /** Milliseconds; default `performance.now`. */
  readonly now?: () => number;
  /** Least time between two drawings; default 100 ms. */
  readonly intervalMs?: number;
}

const BAR_WIDTH = 24;

/** One transfer's progress bar. */
export class ProgressBar {
  readonly #label: string;
  readonly #options: ProgressBarOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  #lastDrawnAt = -Infinity;
  #finished = false;

  constructor(label: string, options: ProgressBarOptions) {
    this.#label = label;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#startedAt = this.#now();
  }

  /** Records progress; draws when the last drawing is old enough. */
  update(bytes: number, total: number | null): void {
    if (this.#finished) return;
    const now = this.#now();
    if (now - this.#lastDrawnAt < (this.#options.intervalMs ?? 100)) return;
    this.#lastDrawnAt = now;
    this.#draw(bytes, total, now, false);
  }

  /** Draws the final state and ends the line. */
  finish(bytes: number, total: number | null): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#draw(bytes, total, this.#now(), true);
  }

  #draw(bytes: number, total: number | null, now: number, last: boolean): void {
    const seconds = Math.max((now - this.#startedAt) / 1000, 0.001);
    const parts = [this.#label];
    if (total !== null && total > 0) {
      const ratio = Math.min(bytes / total, 1);
      const filled = Math.round(ratio * BAR_WIDTH);
      parts.push(`[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`);
      parts.push(`${(ratio * 100).toFixed(0).padStart(3)}%`);
      parts.push(`${formatBytes(bytes)} / ${formatBytes(total)}`);
    } else {
      parts.push(formatBytes(bytes));
    }
    parts.push(`${formatBytes(bytes / seconds)}/s`);
    const line = parts.join("  ");
    if (this.#options.terminal) {
      this.#options.write(`\r${line}\x1b[K${last ? "\n" : ""}`);
    } else {
      this.#options.write(line + "\n");
    }
  }
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}
