/**
 * The output queue of one TLS connection: answers and pushes waiting to be
 * written, coalesced into one write per batch, and bounded (a client that
 * reads too slowly is dropped rather than buffered without limit).
 *
 * @module
 */
import type { SessionConn } from "./node_tls_conn.ts";
import { COALESCE_BYTES, MAX_PENDING_OUTPUT } from "./tls_session_context.ts";
import type { TlsCounters } from "./tls_counters.ts";

/** What the queue asks of its session. */
export interface OutputHooks {
  readonly conn: SessionConn;
  readonly counters: TlsCounters;
  /** True once the connection is closed: nothing more is written. */
  closed(): boolean;
  /** True once the connection is closing: output is no longer held back. */
  closing(): boolean;
  /** True while other requests of this connection are being read or answered. */
  othersPending(): boolean;
  /** Closes at once (the client is too slow, or a write failed). */
  abort(): void;
  /** A write loop ended (the session may now finish closing). */
  drained(): void;
}

const encoder = new TextEncoder();

/** Unsent output of one connection. */
export class TlsOutput {
  readonly #hooks: OutputHooks;
  #out: string[] = [];
  #outBytes = 0;
  #writing = false;
  /** A flush is queued as a microtask (answers of one batch leave in one write). */
  #flushQueued = false;

  /** @param hooks the session's state and callbacks */
  constructor(hooks: OutputHooks) {
    this.#hooks = hooks;
  }

  /** True when nothing is waiting or being written. */
  get idle(): boolean {
    return !this.#writing && this.#out.length === 0;
  }

  /**
   * Queues output and starts writing it. Answers (`hold`) ready while other
   * requests of this connection are still being handled wait until the
   * current microtasks ran (the device actor answers a whole batch at once),
   * up to {@linkcode COALESCE_BYTES}, so that a pipelining client gets one
   * TLS record per batch. No timer: with TCP_NODELAY a second small write
   * no longer waits for a delayed ACK, and a timer costs a wake-up.
   */
  emit(text: string, hold = false): void {
    const hooks = this.#hooks;
    if (hooks.closed()) return;
    this.#out.push(text);
    this.#outBytes += text.length;
    if (this.#outBytes > MAX_PENDING_OUTPUT) {
      hooks.counters.slowClients++;
      hooks.abort();
      return;
    }
    if (this.#writing) return;
    if (hold && hooks.othersPending() && this.#outBytes < COALESCE_BYTES && !hooks.closing()) {
      if (this.#flushQueued) return;
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        if (!this.#writing && this.#out.length > 0) void this.#writeLoop();
      });
      return;
    }
    void this.#writeLoop();
  }

  /** Writes what is held now, unless a write is already running. */
  flush(): void {
    if (this.#out.length > 0 && !this.#writing) void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    const hooks = this.#hooks;
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !hooks.closed()) {
        const data = encoder.encode(this.#out.length === 1 ? this.#out[0]! : this.#out.join(""));
        this.#out = [];
        this.#outBytes = 0;
        let offset = 0;
        while (offset < data.length) offset += await hooks.conn.write(data.subarray(offset));
        hooks.counters.bytesOut += data.length;
      }
    } catch {
      hooks.abort();
    } finally {
      this.#writing = false;
    }
    hooks.drained();
  }
}
