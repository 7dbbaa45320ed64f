/**
 * The long-lived responses (SSE streams, WebSockets) open on the HTTP
 * listener, so that closing the listener ends them instead of waiting for
 * clients to leave.
 *
 * @module
 */

/** Open streams and how to end each. */
export class StreamRegistry {
  readonly #open = new Set<() => void>();

  /** Registers a stream's closer; returns the function that unregisters it. */
  add(close: () => void): () => void {
    this.#open.add(close);
    return () => this.#open.delete(close);
  }

  /** Streams open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Ends every stream. */
  closeAll(): void {
    for (const close of [...this.#open]) close();
    this.#open.clear();
  }
}
