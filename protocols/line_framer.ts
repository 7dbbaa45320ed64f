/**
 * Splits a byte stream into request lines, with a cap on line length. A
 * pure state machine: feed it bytes as they arrive (split anywhere), get
 * whole lines back; no I/O, no timers.
 *
 * - A line ends at `\n`; a `\r` before it is dropped.
 * - A line longer than `maxLineBytes` yields one `too_long` event, and the
 *   rest of it is discarded up to its newline (memory stays bounded).
 * - Seed clients send one command without a newline and wait for the
 *   reply. The listener calls {@linkcode LineFramer.flush} when no byte came
 *   for a short idle gap; pending bytes then count as one `unterminated` line.
 *
 * @example
 * ```ts
 * const framer = new LineFramer({ maxLineBytes: 4096 });
 * framer.push(bytes("lamp o"));      // []
 * framer.push(bytes("n\nping\n"));   // two "line" events: "lamp on", "ping"
 * ```
 *
 * @module
 */

/** What the framer yields. */
export type FrameEvent =
  | { readonly kind: "line"; readonly bytes: Uint8Array; readonly unterminated: boolean }
  | { readonly kind: "too_long"; readonly limit: number };

/** Options for {@linkcode LineFramer}. */
export interface LineFramerOptions {
  /** Longest line in bytes, without its terminator. */
  readonly maxLineBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;

/** A capped newline splitter. */
export class LineFramer {
  readonly #max: number;
  #pending: Uint8Array = new Uint8Array(0);
  #discarding = false;

  /** @param options the line length cap */
  constructor(options: LineFramerOptions) {
    this.#max = options.maxLineBytes;
  }

  /** Bytes held that are not yet a line. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** True while the rest of an oversized line is being skipped. */
  get discarding(): boolean {
    return this.#discarding;
  }

  /** Feeds bytes; returns the events they complete, in order. */
  push(chunk: Uint8Array): FrameEvent[] {
    const events: FrameEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#discarding) {
        if (newline !== -1) this.#discarding = false;
      } else if (this.#pending.length + (end - start) > this.#max + 1) {
        // +1 lets a line of exactly max bytes carry a `\r` before its `\n`.
        events.push({ kind: "too_long", limit: this.#max });
        this.#pending = new Uint8Array(0);
        this.#discarding = newline === -1;
      } else if (newline === -1) {
        this.#pending = concat(this.#pending, chunk.subarray(start, end));
      } else {
        let line = this.#pending.length === 0
          ? chunk.slice(start, end)
          : concat(this.#pending, chunk.subarray(start, end));
        this.#pending = new Uint8Array(0);
        if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, -1);
        if (line.length > this.#max) events.push({ kind: "too_long", limit: this.#max });
        else events.push({ kind: "line", bytes: line, unterminated: false });
      }
      if (newline === -1) break;
      start = newline + 1;
    }
    return events;
  }

  /**
   * Takes the pending bytes as one unterminated line (after an idle gap, or
   * at end of stream); undefined when nothing is pending.
   */
  flush(): FrameEvent | undefined {
    if (this.#discarding) {
      this.#discarding = false;
      return undefined;
    }
    if (this.#pending.length === 0) return undefined;
    let line = this.#pending;
    this.#pending = new Uint8Array(0);
    if (line[line.length - 1] === CR) line = line.subarray(0, -1);
    if (line.length > this.#max) return { kind: "too_long", limit: this.#max };
    return { kind: "line", bytes: line, unterminated: true };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
