/**
 * The CLI's FTPS client: a thin layer over `npm:basic-ftp` (explicit TLS
 * with `AUTH TLS`, `PBSZ 0` + `PROT P` so data connections are TLS too,
 * passive mode, streamed transfers, a timeout on every wait). This file only
 * turns its exceptions into values carrying the FTP reply code
 * (`552 Quota exceeded`), reports progress with the total when it is known,
 * and downloads under a temporary name, so an interrupted download never
 * leaves a partial file under the name asked for.
 *
 * Using an independent client also means the CLI's tests exercise the hub's
 * FTP server with code the hub did not write.
 *
 * @example
 * ```ts
 * const opened = await FtpClient.connect({ port: 2121, user: "user", password, caCerts: [pem] });
 * if (!opened.ok) throw opened.error;
 * await using ftp = opened.value;
 * const stored = await ftp.put("photo.jpg", "/photo.jpg", (done, total) => {});
 * ```
 *
 * @module
 */
import { Client, FileType, FTPError } from "basic-ftp";
import { dirname } from "node:path";
import { isIP } from "node:net";
import { Writable } from "node:stream";

/** A failed FTP operation: the server's reply code and text, or `code: null` (network, timeout, local file). */
export class FtpError extends Error {
  /** The FTP reply code (`530`, `552`...), or null when the server gave no reply. */
  readonly code: number | null;

  /** @param code the reply code, or null; @param text what went wrong */
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
  /** Longest wait for a connection, a reply, or data; default 30 s. */
  readonly timeoutMs?: number;
}

/** Called as bytes move: how many so far, and the total when known. */
export type ProgressCallback = (bytes: number, total: number | null) => void;

/** What a finished transfer moved. */
export interface TransferSummary {
  readonly bytes: number;
  /** The server's final reply text (`226 Transfer complete: /a.bin (3 bytes)`). */
  readonly reply: string;
}

/** One entry of a remote folder. */
export interface RemoteEntry {
  readonly name: string;
  readonly type: "file" | "dir" | "link" | "other";
  /** Bytes, when the server said. */
  readonly size: number | null;
  /** ISO 8601 (UTC), when the server said. */
  readonly modified: string | null;
}

/** How long a data connection's failure waits for the server's reply before closing the session. */
const DATA_ERROR_GRACE_MS = 1_000;

/** An FTPS session: one control connection, a new data connection per transfer. */
export class FtpClient implements AsyncDisposable {
  readonly #client: Client;
  #grace: ReturnType<typeof setTimeout> | undefined;
  /** The server's last refusal line (4xx/5xx), seen through basic-ftp's log hook. */
  #lastRefusal: string | undefined;

  private constructor(client: Client) {
    this.#client = client;
    // A server that refuses an upload midway (552: too large, quota) answers on the control
    // connection and closes the data connection. basic-ftp would close everything at the data
    // socket's error (EPIPE) and lose that answer; a short grace lets the reply arrive, so the
    // failure carries the server's code and reason.
    const closeWithError = client.ftp.closeWithError.bind(client.ftp);
    client.ftp.closeWithError = (error: Error) => {
      if (!/\(data socket\)/.test(error.message)) return closeWithError(error);
      if (this.#grace !== undefined) return; // The data socket's second report (close after error).
      this.#grace = setTimeout(() => closeWithError(error), DATA_ERROR_GRACE_MS);
    };
    client.ftp.verbose = true;
    client.ftp.log = (message: string) => {
      if (!message.startsWith("< ")) return;
      const line = message.slice(2).trim().split(/\r?\n/).at(-1);
      if (line && /^[45]\d\d /.test(line)) this.#lastRefusal = line;
    };
  }

  /**
   * After a data connection failed midway: the server's refusal, when it sent one. It may
   * arrive before or after the failure; a NOOP waits for it (it then answers the NOOP).
   */
  async #refusalAfterDataError(): Promise<FtpError | undefined> {
    const seen = this.#lastRefusal;
    if (seen === undefined) {
      try {
        await this.#client.send("NOOP");
      } catch (error) {
        if (error instanceof FTPError) return toFtpError(error);
      }
    }
    const line = this.#lastRefusal;
    return line === undefined ? undefined : new FtpError(Number(line.slice(0, 3)), line.slice(4));
  }

  /** Connects, secures the control connection (unless plain was asked for) and logs in. */
  static async connect(options: FtpConnectOptions): Promise<FtpResult<FtpClient>> {
    const client = new Client(options.timeoutMs ?? 30_000);
    const hostname = options.hostname ?? "127.0.0.1";
    const opened = await guard(async () => {
      await client.access({
        host: hostname,
        port: options.port,
        user: options.user,
        password: options.password,
        secure: !options.insecurePlain,
        secureOptions: {
          ...(options.caCerts?.length ? { ca: [...options.caCerts] } : {}),
          // SNI takes host names only; an IP address is still checked against the certificate.
          ...(isIP(hostname) ? {} : { servername: hostname }),
        },
      });
      return new FtpClient(client);
    });
    if (!opened.ok) client.close();
    return opened;
  }

  /** The entries of a remote folder (`MLSD` when the server offers it, else `LIST`). */
  list(path = ""): Promise<FtpResult<RemoteEntry[]>> {
    return guard(async () => (await this.#client.list(path)).map(toEntry));
  }

  /** The size of a remote file in bytes. */
  size(path: string): Promise<FtpResult<number>> {
    return guard(() => this.#client.size(path));
  }

  /** Uploads the local file `local` to `remote`. */
  async put(
    local: string,
    remote: string,
    progress?: ProgressCallback,
  ): Promise<FtpResult<TransferSummary>> {
    this.#lastRefusal = undefined;
    const result = await this.#upload(local, remote, progress);
    if (result.ok || result.error.code !== null) return result;
    const refusal = await this.#refusalAfterDataError();
    return refusal ? { ok: false, error: refusal } : result;
  }

  #upload(
    local: string,
    remote: string,
    progress?: ProgressCallback,
  ): Promise<FtpResult<TransferSummary>> {
    return guard(async () => {
      const total = (await Deno.stat(local)).size;
      let moved = 0;
      this.#client.trackProgress((info) => {
        moved = info.bytes;
        progress?.(info.bytes, total);
      });
      try {
        const reply = await this.#client.uploadFrom(local, remote);
        progress?.(total, total);
        return { bytes: Math.max(moved, total), reply: `${reply.code} ${reply.message}` };
      } finally {
        this.#client.trackProgress();
      }
    });
  }

  /** Downloads `remote` into the local file `local` (written under a temporary name first). */
  get(
    remote: string,
    local: string,
    progress?: ProgressCallback,
  ): Promise<FtpResult<TransferSummary>> {
    return guard(async () => {
      const total = await this.#client.size(remote).catch(() => null);
      const partial = `${dirname(local)}/.${crypto.randomUUID()}.partial`;
      let moved = 0;
      this.#client.trackProgress((info) => {
        moved = info.bytes;
        progress?.(info.bytes, total);
      });
      const file = Deno.openSync(partial, { write: true, createNew: true, mode: 0o600 });
      try {
        let reply;
        try {
          reply = await this.#client.downloadTo(syncFileWritable(file), remote);
        } finally {
          file.close();
        }
        await Deno.rename(partial, local);
        return { bytes: total ?? moved, reply: `${reply.code} ${reply.message}` };
      } catch (error) {
        await Deno.remove(partial).catch(() => {});
        throw error;
      } finally {
        this.#client.trackProgress();
      }
    });
  }

  /** Creates the remote folder `path` and any missing parent (like `mkdir -p`). */
  mkdir(path: string): Promise<FtpResult<void>> {
    return guard(async () => {
      const where = await this.#client.pwd();
      await this.#client.ensureDir(path);
      await this.#client.cd(where);
    });
  }

  /** Deletes the remote file `path`, or the empty remote folder `path` when `folder`. */
  remove(path: string, folder = false): Promise<FtpResult<void>> {
    return guard(async () => {
      if (folder) await this.#client.removeEmptyDir(path);
      else await this.#client.remove(path);
    });
  }

  /** Says goodbye and closes the connection. */
  close(): void {
    clearTimeout(this.#grace);
    this.#client.close();
  }

  /** `await using`: closes the connection. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * The time of a `LIST` line's date (`Jan 09 08:30`, or `Mar 01  2020` for older files), taken as
 * UTC; undefined when it is not in that form. basic-ftp leaves this to its caller.
 */
export function parseListDate(raw: string, nowMs = Date.now()): Date | undefined {
  const m = /^([A-Za-z]{3})\s+(\d{1,2})\s+(?:(\d{1,2}):(\d{2})|(\d{4}))$/.exec(raw.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]!.toLowerCase());
  if (month < 0) return undefined;
  const day = Number(m[2]);
  if (m[5] !== undefined) return new Date(Date.UTC(Number(m[5]), month, day));
  const year = new Date(nowMs).getUTCFullYear();
  const at = Date.UTC(year, month, day, Number(m[3]), Number(m[4]));
  // Without a year the date is within the last twelve months: one "in the future" is last year's.
  return new Date(
    at > nowMs + 86_400_000 ? Date.UTC(year - 1, month, day, Number(m[3]), Number(m[4])) : at,
  );
}

function toEntry(info: {
  name: string;
  type: FileType;
  size: number;
  modifiedAt?: Date;
  rawModifiedAt: string;
}): RemoteEntry {
  const type = info.type === FileType.File
    ? "file"
    : info.type === FileType.Directory
    ? "dir"
    : info.type === FileType.SymbolicLink
    ? "link"
    : "other";
  return {
    name: info.name,
    type,
    size: Number.isFinite(info.size) && type !== "dir" ? info.size : null,
    modified: (info.modifiedAt ?? parseListDate(info.rawModifiedAt))?.toISOString() ?? null,
  };
}

/** Runs an operation, turning basic-ftp's and the file system's exceptions into an FtpError value. */
async function guard<T>(work: () => Promise<T>): Promise<FtpResult<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (error instanceof FTPError) return { ok: false, error: toFtpError(error) };
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, error: new FtpError(null, message) };
  }
}

/**
 * A Writable that writes each chunk to `file` before it asks for the next, so it never holds more
 * than one chunk and never signals backpressure. Deno's `node:tls` socket that is paused when
 * the server's end arrives never emits `end` (see STYLE, docs/upstream), so a download into a
 * writable that pauses the data socket would wait for ever after `226`.
 */
function syncFileWritable(file: Deno.FsFile): Writable {
  return new Writable({
    write(chunk: Uint8Array, _encoding, done) {
      try {
        let offset = 0;
        while (offset < chunk.length) offset += file.writeSync(chunk.subarray(offset));
        done();
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)));
      }
    },
  });
}

/** basic-ftp's error (its message is the server's reply, code first) as an FtpError. */
function toFtpError(error: FTPError): FtpError {
  return new FtpError(error.code, error.message.replace(/^\d{3}[ -]/, "").trim());
}
