/**
 * Opens the hub's one SQLite database (`node:sqlite`) in WAL mode. Each
 * store creates its own tables; this file only opens, tunes and closes.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";

/** How hard a commit waits for the disk. */
export type SyncMode = "normal" | "full";

/** Options for {@linkcode openDatabase}. */
export interface OpenDatabaseOptions {
  /**
   * `normal` (WAL + synchronous=NORMAL): a commit is in the database file when
   * it returns, so a killed process loses nothing committed; a power cut may
   * lose the last commits. `full`: every commit also waits for fsync.
   */
  readonly sync?: SyncMode;
  readonly readOnly?: boolean;
}

/** Opens (creating when needed) the database at `path`. */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): DatabaseSync {
  if (!options.readOnly) Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(path, { readOnly: options.readOnly ?? false });
  db.exec("PRAGMA busy_timeout = 5000");
  if (!options.readOnly) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"}`);
    db.exec("PRAGMA foreign_keys = ON");
    // Checkpoint every ~40 MB of WAL instead of ~4 MB: commits get cheaper (measured: audit
    // commits about 25% faster at a batch of 16), at the cost of a larger -wal file.
    db.exec("PRAGMA wal_autocheckpoint = 10000");
  }
  return db;
}

/** Runs `work` inside a transaction: committed when it returns, rolled back when it throws. */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}
