/**
 * The FTP server's file system: every operation is a request to the storage
 * actor through the broker (`storage.*`, plain JSON). It keeps only the
 * working folder; the storage actor decides everything else. The methods
 * ftp-srv calls itself (`get`, `chdir`, `delete`, `mkdir`, `rename`, ...)
 * throw an {@linkcode StorageRefusedError} carrying the FTP reply code,
 * because that is ftp-srv's contract; our own command handlers use the
 * `Outcome`-returning methods.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import { refusalFor } from "../../broker/errors.ts";
import { createMessage } from "../../broker/envelope.ts";
import type {
  ErrorCode,
  Outcome,
  Payloads,
  Refusal,
  ReplyPayload,
  RequestType,
  Source,
  StorageEntry,
  StorageReadTicket,
  StorageUploadTicket,
  StoredFile,
} from "../../broker/messages.ts";
import { resolveVirtualPath, toVirtualPath } from "../../domain/storage_paths.ts";

/** How long one storage request may take before the client gets an error. */
const STORAGE_TIMEOUT_MS = 30_000;

/** A storage refusal as an error, for ftp-srv's own handlers (which reply `550 message`). */
export class StorageRefusedError extends Error {
  override readonly name = "StorageRefusedError";
  /** The FTP reply code that fits. */
  readonly code: number;
  /** The refusal's stable code. */
  readonly refusal: ErrorCode;

  /** @param refusal what the storage actor (or the path check) said */
  constructor(refusal: Refusal) {
    super(refusal.message);
    this.refusal = refusal.code;
    this.code = ftpCodeOf(refusal.code);
  }
}

/** The FTP reply code for a refusal code: 552 for quota, 553 for bad names, 450 for busy, 550 otherwise. */
export function ftpCodeOf(code: ErrorCode): number {
  switch (code) {
    case "quota_exceeded":
    case "too_large":
      return 552;
    case "malformed":
      return 553;
    case "busy":
    case "timeout":
      return 450;
    case "unavailable":
      return 451;
    case "internal":
      return 451;
    default:
      return 550;
  }
}

/** What ftp-srv's handlers (SIZE, MDTM, STAT, RNFR) expect from `get`. */
export interface FtpStat {
  readonly name: string;
  readonly size: number;
  readonly mtime: Date;
  readonly mode: number;
  isDirectory(): boolean;
  isFile(): boolean;
}

/** The file system of one logged-in FTP connection. */
export class StorageFileSystem {
  readonly #broker: Broker;
  readonly #source: Source;
  #cwd = "/";

  /**
   * @param broker where the storage actor is
   * @param source the logged-in principal, channel `ftp`, and the client's address
   */
  constructor(broker: Broker, source: Source) {
    this.#broker = broker;
    this.#source = source;
  }

  /** The working folder (virtual, `/` is the home). */
  currentDirectory(): string {
    return this.#cwd;
  }

  /** Resolves what the client typed against the working folder, or refuses. */
  resolve(input: string | null | undefined): Outcome<string> {
    const result = resolveVirtualPath(this.#cwd, input ?? ".");
    if (!result.ok) {
      const code: ErrorCode = result.error.reason === "escapes_home" ? "forbidden" : "malformed";
      return { ok: false, error: { code, message: result.error.message } };
    }
    return { ok: true, value: toVirtualPath(result.components) };
  }

  /** Stat for a purpose (`info` needs `l`, `cwd` needs `e`, `rename` needs `f`). */
  stat(input: string | null, purpose: "cwd" | "info" | "rename"): Promise<Outcome<StorageEntry>> {
    return this.#pathRequest(input, (path) => ["storage.stat", { path, purpose }] as const);
  }

  /** Lists a folder (or one file). */
  listing(input: string | null): Promise<Outcome<readonly StorageEntry[]>> {
    return this.#pathRequest(input, (path) => ["storage.list", { path }] as const);
  }

  /** Where to read a file from. */
  openRead(input: string | null): Promise<Outcome<StorageReadTicket>> {
    return this.#pathRequest(input, (path) => ["storage.open_read", { path }] as const);
  }

  /** Starts an upload. */
  beginUpload(input: string | null, append: boolean): Promise<Outcome<StorageUploadTicket>> {
    return this.#pathRequest(input, (path) => ["storage.begin_upload", { path, append }] as const);
  }

  /** Makes an upload final. */
  commitUpload(uploadId: string): Promise<Outcome<StoredFile>> {
    return this.#ask("storage.commit_upload", { uploadId });
  }

  /** Throws an upload away. */
  abortUpload(uploadId: string, reason: string): Promise<Outcome<null>> {
    return this.#ask("storage.abort_upload", { uploadId, reason });
  }

  /** Deletes a file (`kind` file) or an empty folder (`kind` dir). */
  removePath(input: string | null, kind: "file" | "dir"): Promise<Outcome<StorageEntry>> {
    const type = kind === "file" ? "storage.delete" : "storage.rmdir";
    return this.#pathRequest(input, (path) => [type, { path }] as const);
  }

  /** Makes a folder. */
  makeFolder(input: string | null): Promise<Outcome<StorageEntry>> {
    return this.#pathRequest(input, (path) => ["storage.mkdir", { path }] as const);
  }

  /** Renames a file or folder. */
  async renamePath(from: string, to: string): Promise<Outcome<StorageEntry>> {
    const a = this.resolve(from);
    if (!a.ok) return a;
    const b = this.resolve(to);
    if (!b.ok) return b;
    return await this.#ask("storage.rename", { from: a.value, to: b.value });
  }

  // ---- ftp-srv's FileSystem contract (throws StorageRefusedError)

  /** ftp-srv: stat for SIZE, MDTM, STAT and RNFR. */
  async get(fileName: string): Promise<FtpStat> {
    return toFtpStat(unwrap(await this.stat(fileName, "info")));
  }

  /** ftp-srv: list (used by STAT with a path). */
  async list(path = "."): Promise<FtpStat[]> {
    return unwrap(await this.listing(path)).map(toFtpStat);
  }

  /** ftp-srv: CWD and CDUP. */
  async chdir(path = "."): Promise<string> {
    const entry = unwrap(await this.stat(path, "cwd"));
    this.#cwd = entry.path;
    return this.#cwd;
  }

  /** ftp-srv: DELE. */
  async delete(path: string): Promise<void> {
    unwrap(await this.removePath(path, "file"));
  }

  /** ftp-srv: MKD; returns the path for the 257 reply. */
  async mkdir(path: string): Promise<string> {
    return unwrap(await this.makeFolder(path)).path;
  }

  /** ftp-srv: RNTO. */
  async rename(from: string, to: string): Promise<void> {
    unwrap(await this.renamePath(from, to));
  }

  /** ftp-srv: SITE CHMOD is not offered. */
  chmod(): Promise<never> {
    return Promise.reject(
      new StorageRefusedError({ code: "forbidden", message: "Changing modes is not supported" }),
    );
  }

  /** ftp-srv: STOU names (we refuse STOU, so this is never used for a write). */
  getUniqueName(): string {
    return crypto.randomUUID();
  }

  /** ftp-srv's write/read are replaced by our own STOR/RETR handlers. */
  write(): never {
    throw new Error("StorageFileSystem.write is not used: STOR is handled by ftp_commands.ts");
  }

  /** ftp-srv's write/read are replaced by our own STOR/RETR handlers. */
  read(): never {
    throw new Error("StorageFileSystem.read is not used: RETR is handled by ftp_commands.ts");
  }

  async #pathRequest<K extends RequestType>(
    input: string | null,
    build: (path: string) => readonly [K, Payloads[K]],
  ): Promise<ReplyPayload<K>> {
    const path = this.resolve(input);
    if (!path.ok) return path as ReplyPayload<K>;
    const [type, payload] = build(path.value);
    return await this.#ask(type, payload);
  }

  async #ask<K extends RequestType>(type: K, payload: Payloads[K]): Promise<ReplyPayload<K>> {
    const result = await this.#broker.ask(createMessage(type, payload, this.#source), {
      timeoutMs: STORAGE_TIMEOUT_MS,
      waitForRoom: true,
    });
    if (result.ok) return result.reply.payload;
    // Every storage reply is an Outcome, whose refusal has this shape.
    return { ok: false, error: refusalFor(result.failure) } as ReplyPayload<K>;
  }
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new StorageRefusedError(outcome.error);
  return outcome.value;
}

/** Turns a storage entry into what ftp-srv's listing helpers read. */
export function toFtpStat(entry: StorageEntry): FtpStat {
  const dir = entry.kind === "dir";
  return {
    name: entry.name,
    size: entry.size,
    mtime: new Date(entry.mtimeMs),
    mode: dir ? 0o40755 : 0o100644,
    isDirectory: () => dir,
    isFile: () => !dir,
  };
}
