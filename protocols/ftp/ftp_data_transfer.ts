/**
 * The bytes of one FTP data transfer (ftp_data_channel.ts opens the
 * connections): uploads copied into the storage side's writer with one
 * reused 256 KiB buffer (reads gathered, written when it is nearly full) and
 * TCP backpressure, downloads and listings sent, each with an idle watchdog.
 *
 * @module
 */
import type { FileReader, UploadWriter } from "../../domain/storage_bytes.ts";
import type { DataConn } from "./ftp_data_channel.ts";

/**
 * Size of the one buffer a transfer reuses. 256 KiB: fewer reads per
 * megabyte than 64 KiB (about 20 % less CPU per MiB on large uploads).
 */
export const TRANSFER_BUFFER_BYTES = 256 * 1024;

/**
 * Reads are gathered in the buffer until less than this much room is left, then written
 * at once: a TLS data connection returns one record (at most 16 KiB) per read, and
 * writing and hashing each record on its own cost more per byte than the buffer's worth.
 */
export const FLUSH_ROOM_BYTES = 32 * 1024;

/** Most idle transfer buffers kept for the next transfers. */
const IDLE_BUFFERS = 8;
const idleBuffers: Uint8Array[] = [];

/**
 * A transfer buffer: a kept one when there is one. Allocating (and zeroing)
 * a fresh buffer per upload cost more than receiving a small file.
 */
function takeBuffer(): Uint8Array {
  return idleBuffers.pop() ?? new Uint8Array(TRANSFER_BUFFER_BYTES);
}

/** Gives a buffer back (kept up to {@linkcode IDLE_BUFFERS}; the rest is garbage). */
function giveBack(buffer: Uint8Array): void {
  if (idleBuffers.length < IDLE_BUFFERS) idleBuffers.push(buffer);
}

/** How an upload's receive ended. */
export type ReceiveResult =
  | { readonly ok: true; readonly bytes: number }
  | {
    readonly ok: false;
    readonly reason: "too_large" | "disk_full" | "io" | "broken" | "timeout";
    readonly message: string;
  };

/** Options for {@linkcode receiveInto}. */
export interface ReceiveOptions {
  /** Abort when no byte arrives for this long. */
  readonly idleTimeoutMs: number;
  /** True while the client's control connection is still there. */
  readonly stillWanted: () => boolean;
}

/**
 * Copies the data connection into the storage side's writer until the peer
 * ends it. Memory stays at one buffer: the next read waits for the previous
 * write (synchronous: into the page cache it takes microseconds).
 */
export async function receiveInto(
  conn: DataConn,
  writer: UploadWriter,
  options: ReceiveOptions,
): Promise<ReceiveResult> {
  const buffer = takeBuffer();
  const watchdog = new Watchdog(options.idleTimeoutMs, () => closeQuietly(conn));
  let filled = 0;
  const flush = () => {
    const refused = filled > 0 ? writer.write(buffer.subarray(0, filled)) : undefined;
    filled = 0;
    return refused;
  };
  try {
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buffer.subarray(filled));
      } catch (error) {
        if (watchdog.fired) return timeout(options.idleTimeoutMs);
        return { ok: false, reason: "broken", message: `Data connection failed: ${brief(error)}` };
      }
      if (n === null) {
        // The client sent everything: close now, before the file is recorded, so that a client
        // waiting for the TLS shutdown (Python's unwrap()) gets it at once. The reply is 226.
        closeQuietly(conn);
        break;
      }
      watchdog.progress();
      filled += n;
      if (buffer.length - filled >= FLUSH_ROOM_BYTES) continue;
      const refused = flush();
      if (refused) return { ok: false, ...refused };
    }
    const refused = flush();
    if (refused) return { ok: false, ...refused };
    if (watchdog.fired) return timeout(options.idleTimeoutMs);
    if (!options.stillWanted()) {
      return { ok: false, reason: "broken", message: "Client left during the upload" };
    }
    return { ok: true, bytes: writer.finish() };
  } finally {
    watchdog.stop();
    giveBack(buffer);
  }
}

/** Sends a stored file over the data connection, one buffer at a time. */
export async function sendFrom(
  conn: DataConn,
  reader: FileReader,
  idleTimeoutMs: number,
): Promise<{ ok: true; bytes: number } | { ok: false; message: string }> {
  const watchdog = new Watchdog(idleTimeoutMs, () => closeQuietly(conn));
  try {
    const buffer = takeBuffer();
    let bytes = 0;
    try {
      while (true) {
        const n = await reader.read(buffer);
        if (n === null) break;
        await writeAll(conn, buffer.subarray(0, n));
        watchdog.progress();
        bytes += n;
      }
    } finally {
      giveBack(buffer);
    }
    await finish(conn, idleTimeoutMs);
    return { ok: true, bytes };
  } catch (error) {
    if (watchdog.fired) return { ok: false, message: `No progress for ${idleTimeoutMs} ms` };
    return { ok: false, message: `Data connection failed: ${brief(error)}` };
  } finally {
    watchdog.stop();
  }
}

/** Sends text (a listing) over the data connection. */
export async function sendText(
  conn: DataConn,
  text: string,
  idleTimeoutMs: number,
): Promise<{ ok: true } | { ok: false; message: string }> {
  try {
    await writeAll(conn, new TextEncoder().encode(text));
    await finish(conn, idleTimeoutMs);
    return { ok: true };
  } catch (error) {
    return { ok: false, message: `Data connection failed: ${brief(error)}` };
  }
}

/**
 * Ends the sending side cleanly: TLS close_notify / TCP FIN, then waits
 * (bounded) for the peer to close, so that clients which check the TLS
 * shutdown (Python's `unwrap()`) see a clean end.
 */
async function finish(conn: DataConn, timeoutMs: number): Promise<void> {
  await conn.closeWrite();
  const sink = new Uint8Array(1024);
  const timer = setTimeout(() => closeQuietly(conn), Math.min(timeoutMs, 5000));
  try {
    for (let i = 0; i < 64; i++) {
      if ((await conn.read(sink)) === null) break;
    }
  } catch {
    /* peer reset or closed by the timer: done either way */
  } finally {
    clearTimeout(timer);
  }
}

async function writeAll(target: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  let offset = 0;
  while (offset < data.length) offset += await target.write(data.subarray(offset));
}

/** Closes the connection when no progress was reported for `ms`. One timer, re-armed lazily. */
class Watchdog {
  fired = false;
  #last = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #ms: number;
  readonly #onFire: () => void;

  constructor(ms: number, onFire: () => void) {
    this.#ms = ms;
    this.#onFire = onFire;
    this.#arm(ms);
  }

  progress(): void {
    this.#last = performance.now();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => {
      const idle = performance.now() - this.#last;
      if (idle >= this.#ms) {
        this.fired = true;
        this.#onFire();
      } else this.#arm(this.#ms - idle);
    }, delay);
  }
}

function timeout(ms: number): ReceiveResult {
  return { ok: false, reason: "timeout", message: `No data for ${ms} ms` };
}

function brief(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] ?? error.name : String(error);
}

/** What {@linkcode closeQuietly} has closed: closing twice throws, and a throw costs a stack trace. */
const closedHere = new WeakSet<{ close(): void }>();

/** Closes a socket or listener that may already be closed. */
export function closeQuietly(resource: { close(): void }): void {
  if (closedHere.has(resource)) return;
  closedHere.add(resource);
  try {
    resource.close();
  } catch { /* already closed */ }
}
