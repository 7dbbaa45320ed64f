/**
 * FTP data connections on Deno's own sockets (`Deno.listen`,
 * `Deno.listenTls`, `Deno.connect`) instead of ftp-srv's `node:net` ones.
 * This is the fix for three problems of ftp-srv 4.6.3 under Deno 2.9.6
 * (see docs/ftp.md):
 *
 * - FTPS uploads never got `226`: a paused server-side `node:tls` socket
 *   loses the peer's end of stream (docs/upstream/deno_tls_end_repro.ts).
 *   `Deno.TlsConn.read` returns `null` at the end instead.
 * - memory grew with every transfer: `node:net` allocates a fresh buffer
 *   per read. Here one 256 KiB buffer per transfer (kept for the next
 *   transfers) is reused, and the next read waits until the previous bytes
 *   are on disk (TCP backpressure).
 * - the passive connector was polled every 50 ms, probed each port with an
 *   extra listen/close, and a late `close` of the previous connector could
 *   wipe the next one (`550 No connector setup`). Here the wait resolves on
 *   accept, a port is listened on once, and `end()` touches only its own
 *   channel.
 *
 * @module
 */
import { closeQuietly } from "./ftp_data_transfer.ts";

export {
  receiveInto,
  type ReceiveOptions,
  type ReceiveResult,
  sendFrom,
  sendText,
  TRANSFER_BUFFER_BYTES,
} from "./ftp_data_transfer.ts";

/** A data connection, plain or TLS. */
export type DataConn = Deno.TcpConn | Deno.TlsConn;

/** Settings of the passive listener. */
export interface PassiveOptions {
  readonly hostname: string;
  /** Port range; `0`/`0` lets the system pick (tests). */
  readonly portMin: number;
  readonly portMax: number;
  /** PEM certificate and key when the data channel must be TLS (PROT P). */
  readonly tls: { readonly cert: string; readonly key: string } | null;
  /** Only this address may connect (the control connection's peer). */
  readonly expectedPeer: string;
  /** Close the listener when nobody connects within this long. */
  readonly acceptTimeoutMs: number;
}

/** Hands out passive ports round-robin in a range. */
export class PortCursor {
  #next = 0;

  /** The ports to try, in order, starting after the last one used. */
  candidates(min: number, max: number): number[] {
    if (min === 0 && max === 0) return [0];
    const span = max - min + 1;
    const start = this.#next % span;
    this.#next = (this.#next + 1) % span;
    return Array.from({ length: span }, (_, i) => min + ((start + i) % span));
  }
}

/** What the command handlers need from a data channel. */
export interface DataChannel {
  readonly type: "passive" | "active";
  /** Resolves with the connection, or undefined when none came in time or the channel ended. */
  waitForConnection(timeoutMs: number): Promise<DataConn | undefined>;
  /** Closes the listener and the connection; idempotent. */
  end(): void;
  /** Resolves once everything of the channel is closed. */
  readonly done: Promise<void>;
}

/** Why a passive listener could not be opened. */
export type PassiveOpenFailure = { readonly kind: "no_port" } | {
  readonly kind: "error";
  readonly message: string;
};

/** A passive data channel: listens on one port and accepts exactly one connection from the peer. */
export class PassiveChannel implements DataChannel {
  readonly type = "passive";
  readonly port: number;
  readonly done: Promise<void>;
  readonly #listener: Deno.Listener<DataConn>;
  #conn: DataConn | undefined;
  #ended = false;
  #waiters: ((conn: DataConn | undefined) => void)[] = [];
  #acceptTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(listener: Deno.Listener<DataConn>, options: PassiveOptions) {
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#acceptTimer = setTimeout(() => this.end(), options.acceptTimeoutMs);
    this.done = this.#accept(options.expectedPeer);
  }

  /** Listens on the first free port of the range. */
  static open(
    options: PassiveOptions,
    cursor: PortCursor,
  ): { ok: true; channel: PassiveChannel } | { ok: false; failure: PassiveOpenFailure } {
    for (const port of cursor.candidates(options.portMin, options.portMax)) {
      try {
        const listener = options.tls
          ? Deno.listenTls({
            hostname: options.hostname,
            port,
            cert: options.tls.cert,
            key: options.tls.key,
          })
          : Deno.listen({ hostname: options.hostname, port, transport: "tcp" });
        return { ok: true, channel: new PassiveChannel(listener, options) };
      } catch (error) {
        if (error instanceof Deno.errors.AddrInUse) continue;
        return { ok: false, failure: { kind: "error", message: String(error) } };
      }
    }
    return { ok: false, failure: { kind: "no_port" } };
  }

  waitForConnection(timeoutMs: number): Promise<DataConn | undefined> {
    if (this.#conn || this.#ended) return Promise.resolve(this.#conn);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve(undefined);
      }, timeoutMs);
      const done = (conn: DataConn | undefined) => {
        clearTimeout(timer);
        resolve(conn);
      };
      this.#waiters.push(done);
    });
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#acceptTimer);
    closeQuietly(this.#listener);
    if (this.#conn) closeQuietly(this.#conn);
    for (const waiter of this.#waiters.splice(0)) waiter(this.#conn);
  }

  async #accept(expectedPeer: string): Promise<void> {
    while (!this.#ended) {
      let conn: DataConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      if (normaliseAddress((conn.remoteAddr as Deno.NetAddr).hostname) !== expectedPeer) {
        closeQuietly(conn); // someone else tried to steal the transfer: keep waiting for the peer
        continue;
      }
      clearTimeout(this.#acceptTimer);
      closeQuietly(this.#listener); // one connection per PASV: free the port now
      if ("setNoDelay" in conn) conn.setNoDelay(true);
      this.#conn = conn;
      if (this.#ended) closeQuietly(conn);
      for (const waiter of this.#waiters.splice(0)) waiter(conn);
      return;
    }
  }
}

/** An active data channel (PORT/EPRT): the hub connects to the client, plain TCP only. */
export class ActiveChannel implements DataChannel {
  readonly type = "active";
  readonly done: Promise<void> = Promise.resolve();
  readonly #hostname: string;
  readonly #port: number;
  #conn: DataConn | undefined;
  #ended = false;

  /** @param hostname the client's address (must be the control connection's) */
  constructor(hostname: string, port: number) {
    this.#hostname = hostname;
    this.#port = port;
  }

  async waitForConnection(timeoutMs: number): Promise<DataConn | undefined> {
    if (this.#conn || this.#ended) return this.#conn;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const conn = await Deno.connect({ hostname: this.#hostname, port: this.#port, signal });
      if (this.#ended) {
        closeQuietly(conn);
        return undefined;
      }
      conn.setNoDelay(true);
      this.#conn = conn;
      return conn;
    } catch {
      return undefined;
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#conn) closeQuietly(this.#conn);
  }
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are the same peer. */
export function normaliseAddress(address: string | undefined): string {
  const value = address ?? "";
  return value.startsWith("::ffff:") ? value.slice(7) : value;
}
