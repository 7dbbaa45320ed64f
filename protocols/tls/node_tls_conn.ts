/**
 * A `node:tls` server-side socket seen as the small `readChunk`/`write`/`close`
 * connection a `TlsSession` uses.
 *
 * Why `node:tls` and not `Deno.listenTls`: an accepted `Deno.TlsConn` has no
 * `setNoDelay`, so Nagle's algorithm holds a reply written while the TLS
 * 1.3 session tickets are still unacknowledged until the client's delayed
 * ACK, 40–50 ms later, on every connect-per-command exchange of a Node.js
 * client (README, "Why the TLS channel listens with node:tls"). Here the
 * socket gets `setNoDelay(true)` before any byte is written.
 *
 * Reads are buffered up to {@linkcode HIGH_WATER} bytes; beyond that the
 * socket is paused until the session has read them, so memory stays bounded
 * per connection. Writes resolve once the socket accepted the bytes (at
 * once, or at `drain`).
 *
 * Known Deno 2.9.6 defect (docs/upstream/deno_tls_end_repro.ts): a paused
 * server-side `node:tls` socket never reports the client's end of stream.
 * Only a client that sends more than 64 KiB the session has not yet read and
 * then closes meets it; its session then ends at the idle timeout
 * (`TLS_IDLE_TIMEOUT_MS`) instead of at once. Memory stays bounded either way.
 *
 * @module
 */
import type { TLSSocket } from "node:tls";

/** The connection interface a session needs. */
export interface SessionConn {
  /** The next bytes received (the caller may keep them), or null at end of stream. */
  readChunk(): Promise<Uint8Array | null>;
  /** Writes all of `p` (which must not change until written); resolves to its length. */
  write(p: Uint8Array): Promise<number>;
  /** Sends what was written, then ends the connection (TLS close_notify and FIN). */
  close(): void;
}

/** Bytes buffered before the socket is paused. */
export const HIGH_WATER = 64 * 1024;
/** How long a closed connection may take to flush before it is destroyed. */
const END_GRACE_MS = 5000;

/** Adapts one secure socket; sets TCP_NODELAY on it. */
export class NodeTlsConn implements SessionConn {
  readonly #socket: TLSSocket;
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #closed = false;
  #wake: (() => void) | undefined;
  #drained: (() => void) | undefined;

  /** @param socket a server-side socket whose handshake is done (its `secure` event) */
  constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= HIGH_WATER && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#notify();
    });
    const end = () => {
      this.#ended = true;
      this.#notify();
      this.#drained?.();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", () => {
      end();
      socket.destroy();
    });
    socket.on("drain", () => this.#drained?.());
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async readChunk(): Promise<Uint8Array | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended || this.#closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    const chunk = this.#chunks.shift()!;
    this.#queued -= chunk.length;
    this.#resumeIfLow();
    return chunk;
  }

  #resumeIfLow(): void {
    if (this.#paused && this.#queued < HIGH_WATER / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#closed || this.#socket.destroyed) {
      throw new Deno.errors.BrokenPipe("Connection closed");
    }
    if (!this.#socket.write(p)) {
      await new Promise<void>((resolve) => (this.#drained = resolve));
      this.#drained = undefined;
      if (this.#socket.destroyed) throw new Deno.errors.BrokenPipe("Connection closed");
    }
    return p.length;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
    this.#drained?.();
    if (this.#socket.destroyed) return;
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), END_GRACE_MS);
    this.#socket.once("close", () => clearTimeout(timer));
  }

  /** Drops the connection at once (a client that does not read its replies). */
  destroy(): void {
    this.#closed = true;
    this.#notify();
    this.#drained?.();
    this.#socket.destroy();
  }
}
