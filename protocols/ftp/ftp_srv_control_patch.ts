/**
 * The one patch of ftp-srv's control-connection reader (ftp-srv 4.6.3,
 * `src/connection.js`, `FtpConnection.prototype._handleData`). ftp-srv takes
 * each network read as a whole batch of commands (`data.split("\r\n")`): no
 * length limit, a command split across two reads runs as two commands (the
 * first one partial: `DELE photo` + `-2024.jpg` deleted `photo`), and an
 * unknown "command" is echoed back whole (`502 Command not allowed: AAAA...`).
 *
 * Ours, per connection:
 *
 * - frames with the shared {@linkcode LineFramer}: bytes accumulate until the
 *   line ends (CRLF, or a bare LF), within `maxLineBytes`; a partial line is
 *   never acted on, not even at end of stream;
 * - an over-long line gets `500` once and the connection is closed; nothing
 *   of it is kept or echoed (memory stays at one line per connection);
 * - commands run one at a time, in order, across reads; when too many wait,
 *   the socket is paused until they are handled;
 * - plaintext lines pipelined after `AUTH TLS` are dropped (no command
 *   injection into the TLS session);
 * - an unknown command is answered with a short, printable prefix only;
 * - a handler that fails gets `451`, never an unhandled rejection.
 *
 * Install it once, before the first connection (ftp-srv binds `_handleData`
 * when it builds a connection). This file does not import ftp-srv: the
 * adapter (ftp_server.ts, the one file that does) hands it ftp-srv's
 * connection class and command registry.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { getLogger } from "../../observability/logger.ts";
import { LineFramer } from "../line_framer.ts";
import { echoPrefix } from "../pre_auth.ts";

const log = getLogger("ftp");

/** Settings of the reader, per server. */
export interface ControlFramingOptions {
  /** Longest command line in bytes (without CRLF). */
  readonly maxLineBytes: number;
  /** Called once when a line is too long (for counters), before the connection closes. */
  readonly onTooLong?: () => void;
}

/** The parts of ftp-srv's connection the reader uses. */
interface ControlConnection {
  readonly server: object;
  encoding?: string;
  secure: boolean;
  commandSocket: { pause(): void; resume(): void; destroyed?: boolean } | undefined;
  commands: { handle(line: string): unknown };
  reply(code: number, message: string): Promise<unknown>;
  close(code?: number, message?: string): Promise<unknown>;
}

/** Lines waiting to be handled before the socket is paused. */
const MAX_QUEUED_LINES = 16;

const readers = new WeakMap<object, ControlReader>();
let installed: ((server: object) => ControlFramingOptions | undefined) | undefined;
let registry: object = {};

/** What the patch needs from ftp-srv (`src/connection.js`, `src/commands/registry.js`). */
export interface FtpSrvControlParts {
  /** ftp-srv's `FtpConnection` class. */
  readonly connectionClass: { prototype: Record<string, unknown> };
  /** ftp-srv's command registry (directive to handler). */
  readonly registry: object;
}

/**
 * Replaces ftp-srv's control reader (process-wide) with ours; `optionsOf` gives each server's
 * settings (undefined: the server is not ours, the defaults apply).
 */
export function installControlFraming(
  parts: FtpSrvControlParts,
  optionsOf: (server: object) => ControlFramingOptions | undefined,
): void {
  if (installed) {
    installed = optionsOf;
    return;
  }
  installed = optionsOf;
  registry = parts.registry;
  const proto = parts.connectionClass.prototype;
  proto._handleData = function (this: ControlConnection, data: Uint8Array | string): void {
    let reader = readers.get(this);
    if (!reader) {
      reader = new ControlReader(this, installed?.(this.server) ?? { maxLineBytes: 4096 });
      readers.set(this, reader);
    }
    reader.push(typeof data === "string" ? Buffer.from(data) : data);
  };
}

/**
 * Runs `fn` once the command being handled on `connection` (if any) is done, before the next
 * one: a login deadline that passes while `PASS` is being checked waits for that check.
 */
export function afterCurrentCommand(connection: object, fn: () => void): void {
  const reader = readers.get(connection);
  if (reader) reader.afterCurrent(fn);
  else fn();
}

/** Frames one control connection and hands its lines to ftp-srv in order. */
class ControlReader {
  readonly #connection: ControlConnection;
  readonly #options: ControlFramingOptions;
  #framer: LineFramer;
  readonly #queue: string[] = [];
  #running = false;
  /** True while one command's handler runs. */
  #handling = false;
  #after: (() => void)[] = [];
  #paused = false;
  #ended = false;

  constructor(connection: ControlConnection, options: ControlFramingOptions) {
    this.#connection = connection;
    this.#options = options;
    this.#framer = new LineFramer({ maxLineBytes: options.maxLineBytes });
  }

  afterCurrent(fn: () => void): void {
    if (this.#handling) this.#after.push(fn);
    else fn();
  }

  push(chunk: Uint8Array): void {
    if (this.#ended) return;
    for (const event of this.#framer.push(chunk)) {
      if (event.kind === "too_long") return this.#tooLong();
      const encoding = this.#connection.encoding === "ascii" ? "latin1" : "utf8";
      const line = Buffer.from(event.bytes).toString(encoding);
      if (line.trim() !== "") this.#queue.push(line);
    }
    if (this.#queue.length >= MAX_QUEUED_LINES && !this.#paused) {
      this.#paused = true;
      this.#connection.commandSocket?.pause();
    }
    if (!this.#running) void this.#run();
  }

  #tooLong(): void {
    this.#ended = true;
    // Read nothing more: what the client still sends is never taken in.
    this.#connection.commandSocket?.pause();
    this.#queue.length = 0;
    this.#framer = new LineFramer({ maxLineBytes: 1 });
    this.#options.onTooLong?.();
    this.#connection
      .close(500, `Command line longer than ${this.#options.maxLineBytes} bytes: closing`)
      .catch(() => {});
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0 && !this.#ended) {
        const line = this.#queue.shift()!;
        const wasSecure = this.#connection.secure;
        this.#handling = true;
        try {
          await this.#handle(line);
        } finally {
          this.#handling = false;
          const after = this.#after;
          this.#after = [];
          for (const fn of after) fn();
        }
        if (!wasSecure && this.#connection.secure) {
          // After AUTH TLS: anything that came in the clear behind it is not the client's
          // TLS session speaking; drop it.
          this.#queue.length = 0;
          this.#framer = new LineFramer({ maxLineBytes: this.#options.maxLineBytes });
        }
        if (this.#paused && this.#queue.length < MAX_QUEUED_LINES / 2) {
          this.#paused = false;
          const socket = this.#connection.commandSocket;
          if (socket && !socket.destroyed) socket.resume();
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #handle(line: string): Promise<void> {
    const connection = this.#connection;
    const directive = line.trimStart().split(" ", 1)[0]!.trim().toUpperCase();
    try {
      if (!Object.hasOwn(registry, directive)) {
        await connection.reply(502, `Command not recognised: ${echoPrefix(directive)}`);
        return;
      }
      await connection.commands.handle(line);
    } catch (error) {
      log.error("FTP command {directive} failed: {error}", {
        directive,
        error: error instanceof Error ? error.message : String(error),
      });
      await connection.reply(451, `${directive} failed: local error`).catch(
        () => {},
      );
    }
  }
}
