/**
 * The storage side's bytes: the temporary files of uploads and the files
 * behind read tickets, known here by id only. The storage actor registers
 * a ticket when it grants one and reads back the size and SHA-256 this
 * store computed when the upload is committed. A missing temporary folder
 * is made again; every file system failure is a refusal value.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { dirname } from "node:path";
import type { Outcome } from "../broker/messages.ts";
import type {
  FileReader,
  StorageBytes,
  UploadWriter,
  WriteRefusal,
} from "../domain/storage_bytes.ts";

/** What the storage actor registers when it begins an upload. */
export interface UploadRegistration {
  readonly tempPath: string;
  /** Bytes already in the temporary file (the existing file, for APPE). */
  readonly offset: number;
  /** Most bytes the whole file may have, or 0 for no limit. */
  readonly maxBytes: number;
}

/** What a finished upload wrote. */
export interface UploadResult {
  readonly size: number;
  readonly sha256: string;
}

interface UploadTicket extends UploadRegistration {
  result?: UploadResult;
}

/** Read tickets not yet opened are forgotten beyond this many (the oldest first). */
const MAX_READ_TICKETS = 4096;
/** How much of an existing file is hashed per read (APPE). */
const HASH_CHUNK = 256 * 1024;

/** Upload and read tickets, and the files behind them. */
export class StorageByteStore implements StorageBytes {
  readonly #uploads = new Map<string, UploadTicket>();
  readonly #reads = new Map<string, string>();

  /** Registers an upload's temporary file (the storage actor names it). */
  registerUpload(uploadId: string, registration: UploadRegistration): void {
    this.#uploads.set(uploadId, { ...registration });
  }

  /** What the upload wrote, once its writer finished; undefined before. */
  resultOf(uploadId: string): UploadResult | undefined {
    return this.#uploads.get(uploadId)?.result;
  }

  /** Forgets an upload (committed or aborted). */
  forgetUpload(uploadId: string): void {
    this.#uploads.delete(uploadId);
  }

  /** Registers a file to be read once; returns its read id. */
  registerRead(fsPath: string): string {
    const readId = crypto.randomUUID();
    this.#reads.set(readId, fsPath);
    if (this.#reads.size > MAX_READ_TICKETS) {
      const oldest = this.#reads.keys().next().value;
      if (oldest !== undefined) this.#reads.delete(oldest);
    }
    return readId;
  }

  async openUpload(uploadId: string): Promise<Outcome<UploadWriter>> {
    const ticket = this.#uploads.get(uploadId);
    if (ticket === undefined) return refused("not_found", "Unknown upload");
    let file: Deno.FsFile;
    try {
      file = openTemporary(ticket.tempPath);
    } catch (error) {
      return refused("internal", `Could not open the upload's temporary file: ${brief(error)}`);
    }
    const hash = createHash("sha256");
    try {
      if (ticket.offset > 0) {
        // APPE: the hash covers the existing part, read asynchronously so others go on.
        await hashExisting(file, hash, ticket.offset);
        file.seekSync(ticket.offset, Deno.SeekMode.Start);
      }
    } catch (error) {
      file.close();
      return refused("internal", `Could not read the file being appended to: ${brief(error)}`);
    }
    return { ok: true, value: new TemporaryFileWriter(file, hash, ticket) };
  }

  async openRead(readId: string, start: number): Promise<Outcome<FileReader>> {
    const path = this.#reads.get(readId);
    if (path === undefined) return refused("not_found", "Unknown or used read ticket");
    this.#reads.delete(readId);
    try {
      const file = await Deno.open(path, { read: true });
      if (start > 0) await file.seek(start, Deno.SeekMode.Start);
      return {
        ok: true,
        value: { read: (buffer) => file.read(buffer), [Symbol.dispose]: () => file.close() },
      };
    } catch (error) {
      return refused("not_found", `Could not open the file: ${brief(error)}`);
    }
  }
}

/** Writes one upload's temporary file, hashing and counting as it goes. */
class TemporaryFileWriter implements UploadWriter {
  readonly #file: Deno.FsFile;
  readonly #hash: Hash;
  readonly #ticket: UploadTicket;
  #size: number;
  #closed = false;

  constructor(file: Deno.FsFile, hash: Hash, ticket: UploadTicket) {
    this.#file = file;
    this.#hash = hash;
    this.#ticket = ticket;
    this.#size = ticket.offset;
  }

  write(chunk: Uint8Array): WriteRefusal | undefined {
    const { maxBytes } = this.#ticket;
    if (maxBytes > 0 && this.#size + chunk.length > maxBytes) {
      return {
        reason: "too_large",
        message: `File is larger than the ${maxBytes} bytes allowed (size limit or quota)`,
      };
    }
    try {
      let offset = 0;
      while (offset < chunk.length) offset += this.#file.writeSync(chunk.subarray(offset));
    } catch (error) {
      return isDiskFull(error)
        ? { reason: "disk_full", message: "Disk full" }
        : { reason: "io", message: `Could not write the upload: ${brief(error)}` };
    }
    this.#hash.update(chunk);
    this.#size += chunk.length;
    return undefined;
  }

  finish(): number {
    this.#ticket.result = { size: this.#size, sha256: this.#hash.digest("hex") };
    this.#close();
    return this.#size;
  }

  [Symbol.dispose](): void {
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}

/** Opens (creating) a temporary file; makes its folder again when it was removed. */
function openTemporary(path: string): Deno.FsFile {
  const options = { read: true, write: true, create: true, mode: 0o600 } as const;
  try {
    return Deno.openSync(path, options);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return Deno.openSync(path, options);
  }
}

async function hashExisting(file: Deno.FsFile, hash: Hash, length: number): Promise<void> {
  const buffer = new Uint8Array(Math.min(HASH_CHUNK, Math.max(1, length)));
  let left = length;
  while (left > 0) {
    const n = await file.read(buffer.subarray(0, Math.min(left, buffer.length)));
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
    left -= n;
  }
}

function refused<T>(code: "not_found" | "internal", message: string): Outcome<T> {
  return { ok: false, error: { code, message } };
}

function isDiskFull(error: unknown): boolean {
  return /ENOSPC|EDQUOT|os error 28|os error 122|No space left/i.test(String(error));
}

/** What went wrong, without the server's paths: the error's kind (`NotFound`, `PermissionDenied`, ...). */
function brief(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${error.name} (${code})` : error.name;
  }
  return "unknown error";
}
