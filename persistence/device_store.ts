/**
 * Device state in the database: one row per device with its type, its
 * state as JSON and the time of its last change. The device actor loads it
 * at start (restoring state after a restart) and saves changed rows in one
 * transaction per batch.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { DeviceState } from "../broker/messages.ts";
import { transaction } from "./database.ts";
import { getLogger } from "../observability/logger.ts";

const log = getLogger("device");

/** One stored device row. */
export interface StoredDevice {
  readonly id: string;
  readonly type: string;
  readonly state: DeviceState;
  readonly updatedAt: string | null;
}

/** Creates the device state table when missing. */
export function ensureDeviceSchema(db: DatabaseSync): void {
  db.exec(`CREATE TABLE IF NOT EXISTS device_state (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT
  ) STRICT`);
}

/** Reads and writes the device state table. */
export class DeviceStore {
  readonly #db: DatabaseSync;
  readonly #upsert;

  /** @param db an open hub database */
  constructor(db: DatabaseSync) {
    this.#db = db;
    ensureDeviceSchema(db);
    this.#upsert = db.prepare(
      `INSERT INTO device_state (id, type, state, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET type = excluded.type, state = excluded.state,
       updated_at = excluded.updated_at`,
    );
  }

  /** Every stored device by id; rows whose state is not a JSON object are skipped (and logged). */
  loadAll(): Map<string, StoredDevice> {
    const rows = this.#db.prepare("SELECT id, type, state, updated_at FROM device_state").all() as {
      id: string;
      type: string;
      state: string;
      updated_at: string | null;
    }[];
    const out = new Map<string, StoredDevice>();
    for (const row of rows) {
      let state: unknown;
      try {
        state = JSON.parse(row.state);
      } catch {
        state = undefined;
      }
      if (typeof state !== "object" || state === null || Array.isArray(state)) {
        // The row is unusable: the device starts from its declared initial state. Say so.
        log.warn(
          "Device {device}: its stored state is not a JSON object; it was reset to its initial state",
          { device: row.id },
        );
        continue;
      }
      out.set(row.id, {
        id: row.id,
        type: row.type,
        state: state as DeviceState,
        updatedAt: row.updated_at,
      });
    }
    return out;
  }

  /** Saves every given row in one transaction (committed when it returns). */
  saveAll(devices: readonly StoredDevice[]): void {
    if (devices.length === 0) return;
    transaction(this.#db, () => this.saveInTransaction(devices));
  }

  /** Saves rows within the caller's open write transaction. */
  saveInTransaction(devices: readonly StoredDevice[]): void {
    for (const d of devices) {
      this.#upsert.run(d.id, d.type, JSON.stringify(d.state), d.updatedAt);
    }
  }
}
