/**
 * Devices adopted at run time (discovered over MQTT and adopted by a
 * principal): one row per device with its declaration as JSON, who adopted
 * it and when. The device actor loads them at start next to the home file's
 * devices, so an adopted device survives a restart.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { DeviceDeclaration } from "../config/home.ts";
import { parseDeviceDeclaration } from "../config/home.ts";

/** One adopted device. */
export interface AdoptedDevice {
  readonly decl: DeviceDeclaration;
  /** The discovery key it was adopted from. */
  readonly key: string;
  readonly adoptedBy: string;
  readonly adoptedAt: string;
}

/** Reads and writes the adopted device table. */
export class AdoptedDeviceStore {
  readonly #db: DatabaseSync;

  /** @param db an open hub database */
  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS adopted_device (
      id TEXT PRIMARY KEY,
      discovery_key TEXT NOT NULL,
      declaration TEXT NOT NULL,
      adopted_by TEXT NOT NULL,
      adopted_at TEXT NOT NULL
    ) STRICT`);
  }

  /** Every adopted device whose stored declaration is still valid (others are skipped). */
  loadAll(): { devices: AdoptedDevice[]; skipped: string[] } {
    const rows = this.#db.prepare(
      "SELECT id, discovery_key, declaration, adopted_by, adopted_at FROM adopted_device ORDER BY adopted_at",
    ).all() as {
      id: string;
      discovery_key: string;
      declaration: string;
      adopted_by: string;
      adopted_at: string;
    }[];
    const devices: AdoptedDevice[] = [];
    const skipped: string[] = [];
    for (const row of rows) {
      let data: unknown;
      try {
        data = JSON.parse(row.declaration);
      } catch {
        skipped.push(row.id);
        continue;
      }
      const decl = parseDeviceDeclaration(data);
      if (!decl.ok || decl.value.id !== row.id) {
        skipped.push(row.id);
        continue;
      }
      devices.push({
        decl: decl.value,
        key: row.discovery_key,
        adoptedBy: row.adopted_by,
        adoptedAt: row.adopted_at,
      });
    }
    return { devices, skipped };
  }

  /** Records an adoption (committed when it returns). */
  insert(device: AdoptedDevice): void {
    this.#db.prepare(
      "INSERT INTO adopted_device (id, discovery_key, declaration, adopted_by, adopted_at) VALUES (?, ?, ?, ?, ?)",
    ).run(
      device.decl.id,
      device.key,
      JSON.stringify(device.decl),
      device.adoptedBy,
      device.adoptedAt,
    );
  }

  /** Removes an adopted device and its stored state; false when it was not adopted. */
  remove(id: string): boolean {
    const result = this.#db.prepare("DELETE FROM adopted_device WHERE id = ?").run(id);
    this.#db.prepare("DELETE FROM device_state WHERE id = ?").run(id);
    return Number(result.changes) > 0;
  }
}
