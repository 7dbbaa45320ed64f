/**
 * A small FTPS client on Deno's own sockets, for the CLI and programs:
 * explicit TLS (`AUTH TLS`, then `PBSZ 0` + `PROT P` so data connections are
 * TLS too), passive mode (`EPSV`, falling back to `PASV`), binary transfers
 * streamed through one reused buffer (a file is never held in memory), and a
 * timeout on every wait. Failures come back as values carrying the FTP reply
 * code when the server gave one (`552 Quota exceeded`).
 *
 * @example
 * ```ts
 * const opened = await FtpClient.connect({ port: 2121, user: "user", password, caFile: "certs/server.crt" });
 * if (!opened.ok) throw opened.error;
 * const ftp = opened.value;
 * const stored = await ftp.put("photo.jpg", "/photo.jpg", (done, total) => {});
 * await ftp.quit();
 * ```
 *
 * @module
 */
import {
  type FtpReply,
  parseEpsv,
  parseFeatures,
  parseListLine,
  parseMlsdLine,
  parsePasv,
  type RemoteEntry,
  ReplyAssembler,
  replyText,
} from "./ftp_parse.ts";

export type { RemoteEntry } from "./ftp_parse.ts";

/** A failed FTP operation: the server's reply code and text, or `code: null` (network, timeout, local file). */
export class FtpError extends Error {
  /** The FTP reply code (`530`, `552`...), or null when the server gave no reply. */
  readonly code: number | null;

  constructor(code: number | null, text: string) {
    super(code === null ? text : `${code} ${text}`);
    this.name = "FtpError";
    this.code = code;
  }
}

/** The value of an operation, or why it failed. */
export type FtpResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: FtpError };

/** Where to connect and as whom. */
export interface FtpConnectOptions {
  /** Default 127.0.0.1. */
  readonly hostname?: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** PEM certificates to trust (the hub's self-signed certificate, say); default: the system's. */
  readonly caCerts?: readonly string[];
  /** Plain FTP: no TLS at all, password and data in clear. Only when asked for explicitly. */
  readonly insecurePlain?: boolean;
  /** Longest wait for a connection, a reply, or one block of data; default 30 s. */
  readonly timeoutMs?: number;
}

/** Called as bytes move: how many so far, and the total when known. */
export type ProgressCallback = (bytes: number, total: number | null) => void;

/** What a finished transfer moved. */
export interface TransferSummary {
  readonly bytes: number;
  /** The server's final reply text (`Transfer complete: /a.bin (3 bytes)`). */
  readonly reply: string;
}

const CHUNK_BYTES = 256 * 1024;
const MAX_LISTING_BYTES = 32 * 1024 * 1024;
const MAX_REPLY_LINE_BYTES = 64 * 1024;
const QUIT_TIMEOUT_MS = 2_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An FTPS session: one control connection, a new data connection per transfer. */
export class FtpClient implements AsyncDisposable {
  #conn: Deno.Conn;
  readonly #hostname: string;
  readonly #tls: boolean;
  readonly #caCerts: string[];
  readonly #timeoutMs: number;
  readonly #assembler = new ReplyAssembler();
  readonly #chunk = new Uint8Array(8192);
  #buffered: Uint8Array = new Uint8Array(0);
  #features = new Set<string>();
  #useEpsv = true;
  #closed = false;

  private constructor(conn: Deno.Conn, options: FtpConnectOptions) {
    this.#conn = conn;
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#tls = !options.insecurePlain;
    this.#caCerts = [...(options.caCerts ?? [])];
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Connects, secures the control connection, logs in and sets binary mode. */
  static async connect(options: FtpConnectOptions): Promise<FtpResult<FtpClient>> {
    const hostname = options.hostname ?? "127.0.0.1";
    const timeoutMs = options.timeoutMs ?? 30_000;
    let conn: Deno.Conn;
    try {
      conn = await connectWithin(hostname, options.port, timeoutMs);
    } catch (error) {
      return failed(
        new FtpError(null, `Cannot connect to ${hostname}:${options.port}: ${messageOf(error)}`),
      );
    }
    const client = new FtpClient(conn, options);
    const ready = await client.#guard(() => client.#login(options.user, options.password));
    if (!ready.ok) {
      client.close();
      return ready;
    }
    return { ok: true, value: client };
  }

  /** The entries of a remote folder (`MLSD` when the server offers it, else `LIST`). */
  list(path = ""): Promise<FtpResult<RemoteEntry[]>> {
    return this.#guard(async () => {
      const mlsd = this.#features.has("MLSD");
      const bytes = await this.#receiveSmall(joinCommand(mlsd ? "MLSD" : "LIST", path));
      const now = Date.now();
      const entries: RemoteEntry[] = [];
      for (const line of decoder.decode(bytes).split(/\r?\n/)) {
        const entry = mlsd ? parseMlsdLine(line) : parseListLine(line, now);
        if (entry) entries.push(entry);
      }
      return entries;
    });
  }

  /** The size of a remote file in bytes (`SIZE`). */
  size(path: string): Promise<FtpResult<number>> {
    return this.#guard(async () => {
      const reply = await this.#command(joinCommand("SIZE", path));
      const size = Number(reply.lines.at(-1)?.trim());
      if (reply.code !== 213 || !Number.isSafeInteger(size) || size < 0) {
        throw replyError(reply);
      }
      return size;
    });
  }

  /** Uploads a local file to `remotePath` (`STOR`), streaming it. */
  put(
    localPath: string,
    remotePath: string,
    onProgress?: ProgressCallback,
  ): Promise<FtpResult<TransferSummary>> {
    return this.#guard(async () => {
      const file = await openLocal(localPath, { read: true });
      try {
        const total = (await file.stat()).size;
        const data = await this.#openData();
        try {
          await this.#startTransfer(joinCommand("STOR", remotePath), data);
          let sent = 0;
          let failure: unknown = undefined;
          const buffer = new Uint8Array(CHUNK_BYTES);
          try {
            while (true) {
              const n = await readLocal(file, buffer, localPath);
              if (n === null) break;
              await this.#writeData(data, buffer.subarray(0, n));
              sent += n;
              onProgress?.(sent, total);
            }
            // TLS: sends close_notify, which tells the server the upload is complete.
            await this.#within(data.closeWrite(), "the end of the upload", () => data.close());
          } catch (error) {
            failure = error;
          }
          closeQuietly(data);
          const final = await this.#finishTransfer(failure);
          return { bytes: sent, reply: replyText(final) };
        } finally {
          closeQuietly(data);
        }
      } finally {
        file.close();
      }
    });
  }

  /** Downloads `remotePath` into `localPath` through a temporary file renamed into place when complete. */
  get(
    remotePath: string,
    localPath: string,
    onProgress?: ProgressCallback,
  ): Promise<FtpResult<TransferSummary>> {
    return this.#guard(async () => {
      const known = await this.size(remotePath);
      let total = known.ok ? known.value : null;
      const data = await this.#openData();
      const temp = `${localPath}.part-${crypto.randomUUID().slice(0, 8)}`;
      let file: Deno.FsFile | undefined;
      try {
        const first = await this.#startTransfer(joinCommand("RETR", remotePath), data);
        total ??= announcedSize(first);
        file = await openLocal(temp, { write: true, createNew: true });
        let received = 0;
        let failure: unknown = undefined;
        const buffer = new Uint8Array(CHUNK_BYTES);
        try {
          while (true) {
            const n = await this.#readData(data, buffer);
            if (n === null) break;
            await writeLocal(file, buffer.subarray(0, n), temp);
            received += n;
            onProgress?.(received, total);
          }
        } catch (error) {
          failure = error;
        }
        closeQuietly(data);
        const final = await this.#finishTransfer(failure);
        if (total !== null && received !== total) {
          throw new FtpError(null, `Download incomplete: ${received} of ${total} bytes received`);
        }
        await file.sync();
        file.close();
        file = undefined;
        await Deno.rename(temp, localPath).catch((error) => {
          throw new FtpError(null, `Cannot write ${localPath}: ${messageOf(error)}`);
        });
        return { bytes: received, reply: replyText(final) };
      } catch (error) {
        file?.close();
        await Deno.remove(temp).catch(() => {});
        throw error;
      } finally {
        closeQuietly(data);
      }
    });
  }

  /** Says goodbye (`QUIT`) and closes the connection; never fails. */
  async quit(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#send("QUIT");
      await this.#readReply("the reply to QUIT", QUIT_TIMEOUT_MS);
    } catch {
      // Closing anyway.
    }
    this.close();
  }

  /** Closes the control connection at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#conn);
  }

  /** Same as {@linkcode quit}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.quit();
  }

  async #login(user: string, password: string): Promise<void> {
    expect(await this.#readReply("the server's greeting"), 220);
    if (this.#tls) {
      expect(await this.#command("AUTH TLS"), 234);
      // The handshake is lazy: it runs with the first command below.
      this.#conn = await Deno.startTls(this.#conn as Deno.TcpConn, {
        hostname: this.#hostname,
        caCerts: this.#caCerts,
      });
    }
    const userReply = await this.#command(joinCommand("USER", user));
    if (userReply.code === 331) {
      expect(await this.#command(joinCommand("PASS", password)), 230);
    } else {
      expect(userReply, 230);
    }
    if (this.#tls) {
      expect(await this.#command("PBSZ 0"), 200);
      expect(await this.#command("PROT P"), 200);
    }
    expect(await this.#command("TYPE I"), 200);
    const features = await this.#command("FEAT");
    this.#features = parseFeatures(features);
  }

  /** Runs `fn`; FTP and network failures become values, anything else is a bug and throws. */
  async #guard<T>(fn: () => Promise<T>): Promise<FtpResult<T>> {
    if (this.#closed) return failed(new FtpError(null, "The FTP connection is closed"));
    try {
      return { ok: true, value: await fn() };
    } catch (error) {
      if (error instanceof FtpError) return failed(error);
      if (isIoError(error)) return failed(new FtpError(null, messageOf(error)));
      throw error;
    }
  }

  /** Asks for a passive data connection and opens it (TLS after `PROT P`). */
  async #openData(): Promise<Deno.Conn> {
    let port: number | undefined;
    if (this.#useEpsv) {
      const reply = await this.#command("EPSV");
      if (reply.code === 229) port = parseEpsv(replyText(reply));
      else if (reply.code === 500 || reply.code === 501 || reply.code === 502) {
        this.#useEpsv = false;
      } else throw replyError(reply);
    }
    let text = "";
    if (!this.#useEpsv) {
      const reply = await this.#command("PASV");
      if (reply.code !== 227) throw replyError(reply);
      text = replyText(reply);
      port = parsePasv(text);
    }
    if (port === undefined) throw new FtpError(null, `No passive port in the reply: ${text}`);
    // The announced address is ignored: data goes to the host of the control connection.
    let tcp: Deno.TcpConn;
    try {
      tcp = await connectWithin(this.#hostname, port, this.#timeoutMs);
    } catch (error) {
      throw new FtpError(null, `Cannot open the data connection: ${messageOf(error)}`);
    }
    if (!this.#tls) return tcp;
    // Lazy handshake (Deno): it runs with the first read or write, after the server's 150.
    return await Deno.startTls(tcp, { hostname: this.#hostname, caCerts: this.#caCerts });
  }

  /** Sends a transfer command and waits for its preliminary reply (`150`). */
  async #startTransfer(command: string, data: Deno.Conn): Promise<FtpReply> {
    const first = await this.#command(command);
    if (first.code >= 100 && first.code < 200) return first;
    closeQuietly(data);
    throw replyError(first);
  }

  /** Reads the final reply of a transfer; a server error wins over the local `failure`. */
  async #finishTransfer(failure: unknown): Promise<FtpReply> {
    let final: FtpReply;
    try {
      final = await this.#readReply("the end of the transfer");
    } catch (error) {
      throw failure ?? error;
    }
    if (final.code >= 400 || final.code < 200) throw replyError(final);
    if (failure !== undefined) throw failure;
    return final;
  }

  /** A whole small transfer (a listing) into memory, capped. */
  async #receiveSmall(command: string): Promise<Uint8Array> {
    const data = await this.#openData();
    try {
      await this.#startTransfer(command, data);
      const parts: Uint8Array[] = [];
      let length = 0;
      let failure: unknown = undefined;
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await this.#readData(data, buffer);
          if (n === null) break;
          length += n;
          if (length > MAX_LISTING_BYTES) {
            throw new FtpError(null, `Listing larger than ${MAX_LISTING_BYTES} bytes`);
          }
          parts.push(buffer.slice(0, n));
        }
      } catch (error) {
        failure = error;
      }
      closeQuietly(data);
      await this.#finishTransfer(failure);
      const all = new Uint8Array(length);
      let offset = 0;
      for (const part of parts) {
        all.set(part, offset);
        offset += part.length;
      }
      return all;
    } finally {
      closeQuietly(data);
    }
  }

  #readData(data: Deno.Conn, buffer: Uint8Array): Promise<number | null> {
    return this.#within(data.read(buffer), "data from the server", () => closeQuietly(data));
  }

  async #writeData(data: Deno.Conn, bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#within(
        data.write(bytes.subarray(offset)),
        "the server to take data",
        () => closeQuietly(data),
      );
    }
  }

  async #command(line: string): Promise<FtpReply> {
    await this.#send(line);
    return await this.#readReply(`the reply to ${line.split(" ")[0]}`);
  }

  async #send(line: string): Promise<void> {
    const bytes = encoder.encode(line + "\r\n");
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#within(
        this.#conn.write(bytes.subarray(offset)),
        "the server to take a command",
        () => this.close(),
      );
    }
  }

  async #readReply(what: string, timeoutMs = this.#timeoutMs): Promise<FtpReply> {
    for (let lines = 0; lines < 10_000; lines++) {
      const line = await this.#readLine(what, timeoutMs);
      const step = this.#assembler.push(line);
      if (step === undefined) continue;
      if ("malformed" in step) {
        this.close();
        throw new FtpError(
          null,
          `Not an FTP reply: ${JSON.stringify(step.malformed.slice(0, 80))}`,
        );
      }
      return step;
    }
    this.close();
    throw new FtpError(null, "Reply too long");
  }

  async #readLine(what: string, timeoutMs: number): Promise<string> {
    while (true) {
      const newline = this.#buffered.indexOf(10);
      if (newline !== -1) {
        const end = newline > 0 && this.#buffered[newline - 1] === 13 ? newline - 1 : newline;
        const line = decoder.decode(this.#buffered.subarray(0, end));
        this.#buffered = this.#buffered.slice(newline + 1);
        return line;
      }
      if (this.#buffered.length > MAX_REPLY_LINE_BYTES) {
        this.close();
        throw new FtpError(null, "Reply line too long");
      }
      const n = await this.#within(
        this.#conn.read(this.#chunk),
        what,
        () => this.close(),
        timeoutMs,
      );
      if (n === null) {
        this.close();
        throw new FtpError(null, `The server closed the connection while waiting for ${what}`);
      }
      const joined = new Uint8Array(this.#buffered.length + n);
      joined.set(this.#buffered);
      joined.set(this.#chunk.subarray(0, n), this.#buffered.length);
      this.#buffered = joined;
    }
  }

  /** Waits for `promise` at most `timeoutMs`; on timeout runs `onTimeout` (closing what it waited on). */
  async #within<T>(
    promise: Promise<T>,
    what: string,
    onTimeout: () => void,
    timeoutMs = this.#timeoutMs,
  ): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new FtpError(null, `Timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function failed(error: FtpError): { readonly ok: false; readonly error: FtpError } {
  return { ok: false, error };
}

/** `VERB arg`, refusing line breaks (they would smuggle a second command). */
function joinCommand(verb: string, arg: string): string {
  if (/[\r\n]/.test(arg)) throw new FtpError(null, `A path may not contain a line break`);
  return arg === "" ? verb : `${verb} ${arg}`;
}

function expect(reply: FtpReply, code: number): void {
  if (reply.code !== code) throw replyError(reply);
}

function replyError(reply: FtpReply): FtpError {
  return new FtpError(reply.code, replyText(reply) || "(no text)");
}

/** The size in `150 Opening data connection for /a.bin (123 bytes)`, or null. */
function announcedSize(reply: FtpReply): number | null {
  const match = /\((\d+) bytes\)/.exec(replyText(reply));
  return match ? Number(match[1]) : null;
}

async function connectWithin(hostname: string, port: number, timeoutMs: number) {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    return await Deno.connect({ hostname, port, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

async function openLocal(path: string, options: Deno.OpenOptions): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, options);
  } catch (error) {
    throw new FtpError(null, `Cannot open ${path}: ${messageOf(error)}`);
  }
}

async function readLocal(file: Deno.FsFile, buffer: Uint8Array, path: string) {
  try {
    return await file.read(buffer);
  } catch (error) {
    throw new FtpError(null, `Cannot read ${path}: ${messageOf(error)}`);
  }
}

async function writeLocal(file: Deno.FsFile, bytes: Uint8Array, path: string): Promise<void> {
  try {
    let offset = 0;
    while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
  } catch (error) {
    throw new FtpError(null, `Cannot write ${path}: ${messageOf(error)}`);
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}

function isIoError(error: unknown): boolean {
  return Object.values(Deno.errors).some((kind) => error instanceof kind);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
