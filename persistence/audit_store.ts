/**
 * The append-only audit log: one row per event, each carrying the SHA-256
 * of the previous row (a hash chain), so a changed, removed or inserted row
 * is detected by {@linkcode verifyAuditChain}. Retention deletes the oldest
 * rows and keeps the last deleted hash as the chain's anchor. The newest
 * entry's seq and hash are also kept outside the log (`audit_head`, written
 * in the same transaction as the entries), so deleting the newest entries
 * (a truncated log) is detected too.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { createHash } from "node:crypto";
import { transaction } from "./database.ts";

/** The hash before the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** An entry to append (the store assigns seq, prev_hash and hash). */
export interface AuditEntryInput {
  readonly at: string;
  readonly messageId: string;
  readonly principal: string | null;
  readonly channel: string;
  readonly address: string | null;
  readonly action: string;
  readonly device: string | null;
  readonly outcome: string;
  readonly code: string | null;
  /** JSON text, or null. */
  readonly detail: string | null;
}

/** A stored entry. */
export interface AuditEntry extends AuditEntryInput {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** Creates the audit tables when missing. */
export function ensureAuditSchema(db: DatabaseSync): void {
  db.exec(`CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    message_id TEXT NOT NULL,
    principal TEXT,
    channel TEXT NOT NULL,
    address TEXT,
    action TEXT NOT NULL,
    device TEXT,
    outcome TEXT NOT NULL,
    code TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS audit_log_device ON audit_log (device, seq);
  CREATE INDEX IF NOT EXISTS audit_log_principal ON audit_log (principal, seq);
  -- Time bounds are found by a binary search over seq (firstSeqAtOrAfter), not an index on at:
  -- one index fewer is one page fewer to write at every commit.
  DROP INDEX IF EXISTS audit_log_at;
  CREATE TABLE IF NOT EXISTS audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;`);
}

/** The columns an entry's hash covers, in table order (everything but the hashes). */
function hashedFields(seq: number, e: AuditEntryInput): (string | number | null)[] {
  return [
    seq,
    e.at,
    e.messageId,
    e.principal,
    e.channel,
    e.address,
    e.action,
    e.device,
    e.outcome,
    e.code,
    e.detail,
  ];
}

/** The hash of an entry given the previous hash. */
export function entryHash(prevHash: string, seq: number, e: AuditEntryInput): string {
  return hashOfFields(prevHash, hashedFields(seq, e));
}

function hashOfFields(prevHash: string, fields: readonly (string | number | null)[]): string {
  // One update of the joined text: the same bytes as three updates, fewer native calls.
  return createHash("sha256").update(prevHash + "\n" + JSON.stringify(fields)).digest("hex");
}

/**
 * Appends entries to the chain. Several connections may append (the device
 * actor journals commands with their state, the audit actor everything
 * else): the head is read inside each write transaction, which SQLite
 * serialises, so the chain stays one chain.
 */
export class AuditWriter {
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #head;
  readonly #setHead;

  /** Prepares the statements on `db` (creating the tables when missing). */
  constructor(db: DatabaseSync) {
    this.#db = db;
    ensureAuditSchema(db);
    this.#insert = db.prepare(`INSERT INTO audit_log
      (seq, at, message_id, principal, channel, address, action, device, outcome, code, detail, prev_hash, hash)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#head = db.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    this.#setHead = db.prepare(
      "INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, ?, ?)",
    );
    // A log written before the head record existed: its newest entry becomes the head.
    const newest = this.#head.get() as { seq: number; hash: string } | undefined;
    if (newest && !readHead(db)) this.#setHead.run(newest.seq, newest.hash);
  }

  /** Appends all entries in one transaction (group commit); returns their seq and hash, in order. */
  append(entries: readonly AuditEntryInput[]): { seq: number; hash: string }[] {
    return transaction(this.#db, () => this.appendInTransaction(entries));
  }

  /**
   * Appends within the caller's open write transaction (committed or rolled back by the caller).
   * The head record outside the log is updated in the same transaction, so a log whose newest
   * entries were deleted no longer verifies.
   */
  appendInTransaction(entries: readonly AuditEntryInput[]): { seq: number; hash: string }[] {
    const head = this.#head.get() as { seq: number; hash: string } | undefined;
    const anchor = head === undefined ? readAnchor(this.#db) : undefined;
    let seq = head?.seq ?? anchor?.seq ?? 0;
    let hash = head?.hash ?? anchor?.hash ?? GENESIS_HASH;
    const rows = entries.map((e) => {
      const prev = hash;
      seq++;
      const fields = hashedFields(seq, e);
      hash = hashOfFields(prev, fields);
      this.#insert.run(...fields, prev, hash);
      return { seq, hash };
    });
    if (rows.length > 0) this.#setHead.run(seq, hash);
    return rows;
  }
}

/** True when the audit tables exist (readers never create them: they may be read-only). */
function hasAuditLog(db: DatabaseSync): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_anchor'")
    .get() !== undefined;
}

function readHead(db: DatabaseSync): { seq: number; hash: string } | undefined {
  return db.prepare("SELECT seq, hash FROM audit_head WHERE id = 1").get() as
    | { seq: number; hash: string }
    | undefined;
}

function hasHeadTable(db: DatabaseSync): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_head'")
    .get() !== undefined;
}

function readAnchor(db: DatabaseSync): { seq: number; hash: string } | undefined {
  return db.prepare("SELECT seq, hash FROM audit_anchor WHERE id = 1").get() as
    | { seq: number; hash: string }
    | undefined;
}

/** The result of verifying the chain. */
export type ChainVerdict =
  | { readonly ok: true; readonly entries: number; readonly lastSeq: number }
  | { readonly ok: false; readonly seq: number; readonly reason: string; readonly checked: number };

/** Walks the whole chain and reports the first entry that does not verify. */
export function verifyAuditChain(db: DatabaseSync): ChainVerdict {
  if (!hasAuditLog(db)) return { ok: true, entries: 0, lastSeq: 0 };
  const anchor = readAnchor(db);
  let expectedSeq = (anchor?.seq ?? 0) + 1;
  let prevHash = anchor?.hash ?? GENESIS_HASH;
  let checked = 0;
  const rows = db.prepare("SELECT * FROM audit_log ORDER BY seq").iterate() as Iterable<
    Record<string, SQLInputValue>
  >;
  for (const row of rows) {
    const entry = rowToEntry(row);
    if (entry.seq !== expectedSeq) {
      return {
        ok: false,
        seq: expectedSeq,
        reason: `entry ${expectedSeq} is missing (next is ${entry.seq})`,
        checked,
      };
    }
    if (entry.prevHash !== prevHash) {
      return {
        ok: false,
        seq: entry.seq,
        reason: "its previous-hash does not match the entry before it",
        checked,
      };
    }
    if (entryHash(prevHash, entry.seq, entry) !== entry.hash) {
      return {
        ok: false,
        seq: entry.seq,
        reason: "its content does not match its hash (altered)",
        checked,
      };
    }
    prevHash = entry.hash;
    expectedSeq++;
    checked++;
  }
  const lastSeq = expectedSeq - 1;
  const head = hasHeadTable(db) ? readHead(db) : undefined;
  if (head && (head.seq !== lastSeq || head.hash !== prevHash)) {
    return head.seq > lastSeq
      ? {
        ok: false,
        seq: lastSeq + 1,
        reason: `entries ${lastSeq + 1} to ${head.seq} are missing: the newest entries were ` +
          `deleted (the head record says the log ends at ${head.seq})`,
        checked,
      }
      : {
        ok: false,
        seq: head.seq,
        reason: `the log does not end where its head record says (entry ${head.seq})`,
        checked,
      };
  }
  return { ok: true, entries: checked, lastSeq };
}

/** Filters for {@linkcode queryAudit}. */
export interface AuditQuery {
  readonly device?: string;
  readonly principal?: string;
  /** ISO time: entries at or after. */
  readonly since?: string;
  /** ISO time: entries before. */
  readonly until?: string;
  readonly afterSeq?: number;
  /** Most entries returned (the newest ones). */
  readonly limit?: number;
}

/** Reads entries matching `query`, oldest first. */
export function queryAudit(db: DatabaseSync, query: AuditQuery = {}): AuditEntry[] {
  if (!hasAuditLog(db)) return [];
  const where: string[] = [];
  const args: SQLInputValue[] = [];
  if (query.device !== undefined) (where.push("device = ?"), args.push(query.device));
  if (query.principal !== undefined) (where.push("principal = ?"), args.push(query.principal));
  for (const [clause, value] of timeBounds(db, query.since, query.until)) {
    where.push(clause);
    args.push(value);
  }
  if (query.afterSeq !== undefined) (where.push("seq > ?"), args.push(query.afterSeq));
  const sql = `SELECT * FROM (SELECT * FROM audit_log ${
    where.length ? "WHERE " + where.join(" AND ") : ""
  }
    ORDER BY seq DESC LIMIT ?) ORDER BY seq`;
  args.push(query.limit ?? 100);
  return (db.prepare(sql).all(...args) as Record<string, SQLInputValue>[]).map(rowToEntry);
}

/** Retention settings: 0 means no limit. */
export interface AuditRetention {
  readonly maxAgeDays: number;
  readonly maxEntries: number;
  /** Most bytes the database may use (pages in use, not the file's size); 0 = no cap. */
  readonly maxBytes?: number;
}

/** Rows deleted per transaction, so that the audit actor's commits never wait long. */
const RETENTION_CHUNK = 5000;

/** Deletes entries beyond the retention limits; returns how many were deleted. */
export function applyAuditRetention(
  db: DatabaseSync,
  retention: AuditRetention,
  now = Date.now(),
): number {
  ensureAuditSchema(db);
  const cutoffSeq = retentionCutoff(db, retention, now);
  let removed = 0;
  while (true) {
    const chunk = transaction(db, () => {
      const last = db.prepare(
        "SELECT seq, hash FROM audit_log WHERE seq <= ? ORDER BY seq LIMIT 1 OFFSET ?",
      ).get(cutoffSeq, RETENTION_CHUNK - 1) as { seq: number; hash: string } | undefined ??
        db.prepare("SELECT seq, hash FROM audit_log WHERE seq <= ? ORDER BY seq DESC LIMIT 1")
          .get(cutoffSeq) as { seq: number; hash: string } | undefined;
      if (!last) return 0;
      db.prepare("INSERT OR REPLACE INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?)").run(
        last.seq,
        last.hash,
      );
      return Number(db.prepare("DELETE FROM audit_log WHERE seq <= ?").run(last.seq).changes);
    });
    removed += chunk;
    if (chunk < RETENTION_CHUNK) return removed;
  }
}

/** The newest seq that retention deletes up to (0: nothing to delete). */
function retentionCutoff(db: DatabaseSync, retention: AuditRetention, now: number): number {
  let cutoffSeq = 0;
  const bounds = db.prepare("SELECT MIN(seq) AS min, MAX(seq) AS max FROM audit_log").get() as {
    min: number | null;
    max: number | null;
  };
  if (bounds.max === null || bounds.min === null) return 0;
  if (retention.maxEntries > 0) cutoffSeq = Math.max(cutoffSeq, bounds.max - retention.maxEntries);
  if (retention.maxAgeDays > 0) {
    const cutoff = new Date(now - retention.maxAgeDays * 86_400_000).toISOString();
    cutoffSeq = Math.max(cutoffSeq, firstSeqAtOrAfter(db, cutoff) - 1);
  }
  const maxBytes = retention.maxBytes ?? 0;
  const used = databaseBytesInUse(db);
  if (maxBytes > 0 && used > maxBytes) {
    // Keep the newest share of entries that fits in 90% of the cap (freed pages are reused).
    const count = bounds.max - bounds.min + 1;
    const keep = Math.floor(count * (0.9 * maxBytes) / used);
    cutoffSeq = Math.max(cutoffSeq, bounds.max - keep);
  }
  return cutoffSeq;
}

/**
 * The smallest seq whose entry was made at or after `at` (one past the newest when none was),
 * by a binary search over seq: entries are appended in time order, so `at` rises with seq.
 * O(log n) lookups by primary key, where an index on `at` would cost a page at every commit.
 */
export function firstSeqAtOrAfter(db: DatabaseSync, at: string): number {
  const bounds = db.prepare("SELECT MIN(seq) AS min, MAX(seq) AS max FROM audit_log").get() as {
    min: number | null;
    max: number | null;
  };
  if (bounds.min === null || bounds.max === null) return 1;
  const atOf = db.prepare("SELECT at FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT 1");
  let low = bounds.min;
  let high = bounds.max + 1;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const row = atOf.get(middle) as { at: string } | undefined;
    if (row !== undefined && row.at >= at) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * The WHERE clauses of a time range: the exact `at` comparisons, plus the seq bounds found by
 * {@linkcode firstSeqAtOrAfter} so that SQLite walks only the range instead of the whole log.
 */
export function timeBounds(
  db: DatabaseSync,
  since: string | undefined,
  until: string | undefined,
): [string, SQLInputValue][] {
  const clauses: [string, SQLInputValue][] = [];
  if (since !== undefined) {
    clauses.push(["seq >= ?", firstSeqAtOrAfter(db, since)], ["at >= ?", since]);
  }
  if (until !== undefined) {
    clauses.push(["seq < ?", firstSeqAtOrAfter(db, until)], ["at < ?", until]);
  }
  return clauses;
}

/** Bytes of the database's pages in use (the file may be larger: free pages are reused). */
export function databaseBytesInUse(db: DatabaseSync): number {
  const pragma = (name: string) =>
    Number(Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0] ?? 0);
  return (pragma("page_count") - pragma("freelist_count")) * pragma("page_size");
}

/** The time of the oldest entry kept, or undefined when the log is empty. */
export function oldestAuditEntry(db: DatabaseSync): string | undefined {
  if (!hasAuditLog(db)) return undefined;
  const row = db.prepare("SELECT at FROM audit_log ORDER BY seq LIMIT 1").get() as
    | { at: string }
    | undefined;
  return row?.at;
}

function rowToEntry(row: Record<string, SQLInputValue>): AuditEntry {
  return {
    seq: Number(row.seq),
    at: String(row.at),
    messageId: String(row.message_id),
    principal: row.principal === null ? null : String(row.principal),
    channel: String(row.channel),
    address: row.address === null ? null : String(row.address),
    action: String(row.action),
    device: row.device === null ? null : String(row.device),
    outcome: String(row.outcome),
    code: row.code === null ? null : String(row.code),
    detail: row.detail === null ? null : String(row.detail),
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  };
}
