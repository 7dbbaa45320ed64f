/**
 * The file index: one row per file stored through the hub (path relative to
 * UPLOAD_FOLDER, size, SHA-256, owner, time). Quotas are counted from it and
 * retention picks its victims from it. Only the storage actor writes it.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { transaction } from "./database.ts";

/** One indexed file. */
export interface FileIndexRow {
  /** Relative to UPLOAD_FOLDER, `/` separators, no leading slash. */
  readonly path: string;
  readonly owner: string;
  readonly size: number;
  readonly sha256: string;
  readonly storedAt: string;
}

/** What one owner keeps. */
export interface Usage {
  readonly bytes: number;
  readonly files: number;
}

/** Creates the file index table when missing. */
export function ensureFileIndexSchema(db: DatabaseSync): void {
  db.exec(`CREATE TABLE IF NOT EXISTS file_index (
    path TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    stored_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS file_index_owner ON file_index (owner, stored_at)`);
}

/** Reads and writes the file index on one connection (statements prepared once). */
export class FileIndexStore {
  readonly #db: DatabaseSync;
  readonly #put: StatementSync;
  readonly #get: StatementSync;
  readonly #delete: StatementSync;
  readonly #deleteBelow: StatementSync;
  readonly #rename: StatementSync;
  readonly #below: StatementSync;
  readonly #renameReplacing: StatementSync;
  readonly #usage: StatementSync;
  readonly #filesOf: StatementSync;

  /** @param db the hub database; the table is created when missing */
  constructor(db: DatabaseSync) {
    this.#db = db;
    ensureFileIndexSchema(db);
    this.#put = db.prepare(
      "INSERT OR REPLACE INTO file_index (path, owner, size, sha256, stored_at) VALUES (?, ?, ?, ?, ?)",
    );
    this.#get = db.prepare(
      "SELECT path, owner, size, sha256, stored_at AS storedAt FROM file_index WHERE path = ?",
    );
    this.#delete = db.prepare("DELETE FROM file_index WHERE path = ?");
    // The prefix length is measured by SQLite itself: JS counts UTF-16 units, SQLite characters.
    this.#deleteBelow = db.prepare(
      "DELETE FROM file_index WHERE substr(path, 1, length(?1)) = ?1",
    );
    this.#rename = db.prepare("UPDATE file_index SET path = ? WHERE path = ?");
    this.#below = db.prepare("SELECT path FROM file_index WHERE substr(path, 1, length(?1)) = ?1");
    this.#renameReplacing = db.prepare("UPDATE OR REPLACE file_index SET path = ? WHERE path = ?");
    this.#usage = db.prepare(
      "SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS files FROM file_index WHERE owner = ?",
    );
    this.#filesOf = db.prepare(
      "SELECT path, owner, size, sha256, stored_at AS storedAt FROM file_index WHERE owner = ? ORDER BY stored_at, path",
    );
  }

  /** Records (or replaces) a file. */
  put(row: FileIndexRow): void {
    this.#put.run(row.path, row.owner, row.size, row.sha256, row.storedAt);
  }

  /** The row of `path`, or undefined. */
  get(path: string): FileIndexRow | undefined {
    const row = this.#get.get(path);
    return row ? toRow(row) : undefined;
  }

  /** Forgets a file, or every file below a folder when `folder` is true. */
  remove(path: string, folder = false): void {
    this.#delete.run(path);
    if (folder) this.#deleteBelow.run(path + "/");
  }

  /** Moves a file's row, or every row below a folder, to a new path. */
  move(from: string, to: string): void {
    transaction(this.#db, () => {
      this.#delete.run(to);
      this.#rename.run(to, from);
      const below = this.#below.all(from + "/") as { path: string }[];
      for (const { path } of below) this.#renameReplacing.run(to + path.slice(from.length), path);
    });
  }

  /** Bytes and files `owner` keeps. */
  usage(owner: string): Usage {
    const row = this.#usage.get(owner) as { bytes: number; files: number };
    return { bytes: Number(row.bytes), files: Number(row.files) };
  }

  /** `owner`'s files, oldest first. */
  filesOf(owner: string): FileIndexRow[] {
    return this.#filesOf.all(owner).map(toRow);
  }
}

function toRow(row: Record<string, unknown>): FileIndexRow {
  return {
    path: String(row.path),
    owner: String(row.owner),
    size: Number(row.size),
    sha256: String(row.sha256),
    storedAt: String(row.storedAt),
  };
}
