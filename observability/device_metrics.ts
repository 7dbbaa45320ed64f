/**
 * Device values on /metrics: one gauge sample per numeric field of each
 * device's last recorded state (`temperature`, `brightness`, `target`,
 * `position`, ...), and on/off, locked/unlocked as 1/0, so a dashboard can
 * plot a room's temperature or a lamp's power. Read from the state the hub
 * has durably recorded (the device_state table); a device that never
 * changed shows its initial state.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Home } from "../config/home.ts";
import { initialState } from "../domain/device_types.ts";
import type { PrometheusWriter, Sample } from "./prometheus.ts";

/** A state field as a number, or undefined when it is not a measurable value. */
export function numericValue(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === "on" || value === "open") return 1;
  if (value === "off" || value === "closed") return 0;
  return undefined;
}

/** Writes `hub_device_value` for every device of `home`. */
export function deviceFamilies(w: PrometheusWriter, db: DatabaseSync, home: Home): void {
  const stored = new Map<string, Record<string, unknown>>();
  try {
    const rows = db.prepare("SELECT id, state FROM device_state").all() as {
      id: string;
      state: string;
    }[];
    for (const row of rows) {
      try {
        const state: unknown = JSON.parse(row.state);
        if (state && typeof state === "object") {
          stored.set(row.id, state as Record<string, unknown>);
        }
      } catch { /* a row that is not JSON is skipped */ }
    }
  } catch { /* no device table yet */ }
  const samples: Sample[] = [];
  for (const device of home.devices) {
    const state = stored.get(device.id) ?? (initialState(device) as Record<string, unknown>);
    for (const [field, raw] of Object.entries(state)) {
      const value = numericValue(raw);
      if (value === undefined) continue;
      samples.push({
        labels: { device: device.id, type: device.type, room: device.room, field },
        value,
      });
    }
  }
  w.gauge(
    "hub_device_value",
    "Last recorded value of each numeric device field (on/off, locked as 1/0)",
    samples,
  );
}
