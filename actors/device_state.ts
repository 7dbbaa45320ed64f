/**
 * The device actor's state and the kinds it consumes, and how its devices
 * are restored at start: the home file's devices with their stored state
 * (reset when stored for another type), then adopted devices (the home file
 * wins when both name one id).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { DeviceDeclaration } from "../config/home.ts";
import { initialState, reconcileState } from "../domain/device_types.ts";
import type { Journal } from "../persistence/journal.ts";
import type { StoredDevice } from "../persistence/device_store.ts";
import { AdoptedDeviceStore } from "../persistence/adopted_device_store.ts";
import { getLogger } from "../observability/logger.ts";
import type { RealDeviceState, RealRecord } from "./device_real.ts";

/** The kinds the device actor consumes. */
export const DEVICE_TOPICS = [
  "device.command",
  "device.reading",
  "device.query",
  "device.snapshot_stored",
  "config.principals_changed",
  // real devices (issue 11)
  "device.report",
  "device.adopt",
  "device.remove",
  "device.list_discovered",
  "device.confirm_timeout",
  "device.discovered",
  "mqtt.connection_changed",
  "config.devices_changed",
] as const;

/** A kind the device actor consumes. */
export type DeviceTopic = (typeof DEVICE_TOPICS)[number];

/** The device actor's state. */
export interface DeviceActorState {
  readonly db: DatabaseSync;
  readonly journal: Journal;
  readonly devices: Map<string, RealRecord>;
  /** Real devices (issue 11): bindings, discovery, adopted devices. */
  readonly real: RealDeviceState;
}

const log = getLogger("device");

/** A device's state from its stored row when that is for the same type, else its initial state. */
function restoredRecord(
  decl: DeviceDeclaration,
  row: StoredDevice | undefined,
): Pick<RealRecord, "decl" | "state" | "updatedAt"> {
  const restored = row !== undefined && row.type === decl.type;
  return {
    decl,
    state: restored ? reconcileState(decl, row.state) : initialState(decl),
    updatedAt: restored ? row.updatedAt : null,
  };
}

/** Every device at start (declared, then adopted), with its stored state, and the adopted store. */
export function restoreDevices(
  db: DatabaseSync,
  journal: Journal,
  declared: readonly DeviceDeclaration[],
): { devices: Map<string, RealRecord>; adopted: AdoptedDeviceStore } {
  const stored = journal.loadDevices();
  const devices = new Map<string, RealRecord>();
  for (const decl of declared) {
    const row = stored.get(decl.id);
    if (row !== undefined && row.type !== decl.type) {
      log.warn("Device {device}: stored state is for type {stored}, not {type}; reset", {
        device: decl.id,
        stored: row.type,
        type: decl.type,
      });
    }
    devices.set(decl.id, restoredRecord(decl, row));
  }
  const adopted = new AdoptedDeviceStore(db);
  const loaded = adopted.loadAll();
  for (const a of loaded.devices) {
    if (devices.has(a.decl.id)) {
      log.warn("Adopted device {id} is also declared in the home file: the home file wins", {
        id: a.decl.id,
      });
      continue;
    }
    devices.set(a.decl.id, { ...restoredRecord(a.decl, stored.get(a.decl.id)), adopted: true });
  }
  for (const id of loaded.skipped) {
    log.warn("Adopted device {id} is no longer valid: skipped", { id });
  }
  return { devices, adopted };
}
