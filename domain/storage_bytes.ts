/**
 * How file bytes flow between a transport and the storage side, without a
 * file-system path ever crossing the broker: a transport asks the storage
 * actor for a ticket (an upload id, a read id), then streams through this
 * interface, which the storage side implements. The storage side writes
 * the temporary file, enforces the size limit and computes the SHA-256 it
 * records at commit.
 *
 * @module
 */
import type { Outcome } from "../broker/messages.ts";

/** Why a write was refused: nothing more may be written to this upload. */
export type WriteRefusal = {
  readonly reason: "too_large" | "disk_full" | "io";
  readonly message: string;
};

/** The writing end of one upload. Writes are synchronous: they go to the page cache. */
export interface UploadWriter extends Disposable {
  /** Appends `chunk`; a refusal when the file would exceed its limit or the disk refuses. */
  write(chunk: Uint8Array): WriteRefusal | undefined;
  /** Ends writing: the size and SHA-256 are kept for the commit. Returns the whole file's size. */
  finish(): number;
}

/** The reading end of one stored file. */
export interface FileReader extends Disposable {
  /** Reads into `buffer`; the byte count, or null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** The storage side's byte interface. */
export interface StorageBytes {
  /** Opens upload `uploadId` (from `storage.begin_upload`) for writing after its offset. */
  openUpload(uploadId: string): Promise<Outcome<UploadWriter>>;
  /** Opens read ticket `readId` (from `storage.open_read`) from byte `start`. */
  openRead(readId: string, start: number): Promise<Outcome<FileReader>>;
}
