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

/**
 * Creates the file index when missing, with `owner_usage`: bytes and files per owner, kept by
 * triggers so that a quota check costs one row read however many files an owner keeps (a camera
 * storing a snapshot a minute has tens of thousands). Rows must change through plain INSERT,
 * UPDATE and DELETE (or upserts): `OR REPLACE` deletes without firing the delete trigger.
 */
export function ensureFileIndexSchema(db: DatabaseSync): void {
  const hadUsage = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'owner_usage'",
  ).get() !== undefined;
  db.exec(`CREATE TABLE IF NOT EXISTS file_index (
    path TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    stored_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS file_index_owner ON file_index (owner, stored_at);
  CREATE TABLE IF NOT EXISTS owner_usage (
    owner TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    files INTEGER NOT NULL
  ) STRICT;
  CREATE TRIGGER IF NOT EXISTS file_index_usage_insert AFTER INSERT ON file_index BEGIN
    INSERT INTO owner_usage (owner, bytes, files) VALUES (NEW.owner, NEW.size, 1)
    ON CONFLICT (owner) DO UPDATE SET bytes = bytes + NEW.size, files = files + 1;
  END;
  CREATE TRIGGER IF NOT EXISTS file_index_usage_delete AFTER DELETE ON file_index BEGIN
    UPDATE owner_usage SET bytes = bytes - OLD.size, files = files - 1 WHERE owner = OLD.owner;
  END;
  CREATE TRIGGER IF NOT EXISTS file_index_usage_update AFTER UPDATE OF owner, size ON file_index
  BEGIN
    UPDATE owner_usage SET bytes = bytes - OLD.size, files = files - 1 WHERE owner = OLD.owner;
    INSERT INTO owner_usage (owner, bytes, files) VALUES (NEW.owner, NEW.size, 1)
    ON CONFLICT (owner) DO UPDATE SET bytes = bytes + NEW.size, files = files + 1;
  END;`);
  if (!hadUsage) {
    // A database from before the counters: count what is there once.
    db.exec(`INSERT INTO owner_usage (owner, bytes, files)
      SELECT owner, SUM(size), COUNT(*) FROM file_index GROUP BY owner`);
  }
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
      `INSERT INTO file_index (path, owner, size, sha256, stored_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (path) DO UPDATE SET owner = excluded.owner, size = excluded.size,
         sha256 = excluded.sha256, stored_at = excluded.stored_at`,
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
    this.#renameReplacing = db.prepare("UPDATE file_index SET path = ? WHERE path = ?");
    this.#usage = db.prepare("SELECT bytes, files FROM owner_usage WHERE owner = ?");
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
      for (const { path } of below) {
        const target = to + path.slice(from.length);
        this.#delete.run(target);
        this.#renameReplacing.run(target, path);
      }
    });
  }

  /** Bytes and files `owner` keeps. */
  usage(owner: string): Usage {
    const row = this.#usage.get(owner) as { bytes: number; files: number } | undefined;
    return { bytes: Number(row?.bytes ?? 0), files: Number(row?.files ?? 0) };
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
