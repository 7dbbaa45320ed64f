/**
 * The journal: the audit log is the record of what happened, and device
 * state is its projection, written in the same transaction. One commit per
 * batch of commands (group commit) covers every audit entry and every
 * changed state row of the batch; if it fails, neither is written.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { type AuditEntryInput, AuditWriter } from "./audit_store.ts";
import { transaction } from "./database.ts";
import { DeviceStore, type StoredDevice } from "./device_store.ts";

/** What one journal commit wrote. */
export interface JournalCommit {
  /** Seq and hash of each audit entry, in order. */
  readonly written: readonly { readonly seq: number; readonly hash: string }[];
}

/** Writes audit entries and the device state they record, atomically. */
export class Journal {
  readonly #db: DatabaseSync;
  readonly #audit: AuditWriter;
  readonly #devices: DeviceStore;

  /** Prepares the journal's statements on `db`. */
  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#audit = new AuditWriter(db);
    this.#devices = new DeviceStore(db);
  }

  /** The device rows as last committed. */
  loadDevices(): Map<string, StoredDevice> {
    return this.#devices.loadAll();
  }

  /** Commits `entries` and `devices` in one transaction; throws (having written nothing) on failure. */
  commit(entries: readonly AuditEntryInput[], devices: readonly StoredDevice[]): JournalCommit {
    return transaction(this.#db, () => {
      const written = this.#audit.appendInTransaction(entries);
      this.#devices.saveInTransaction(devices);
      return { written };
    });
  }
}
