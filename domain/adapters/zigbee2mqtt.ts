/**
 * Zigbee2MQTT's topic scheme, from its documentation
 * ("MQTT Topics and Messages", https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html):
 *
 * - `zigbee2mqtt/<friendly_name>`: the device's state, always a JSON object
 *   (`{"state":"ON","brightness":215,"color_temp":325}`, `{"temperature":27.34}`);
 *   brightness is 0-254.
 * - `zigbee2mqtt/<friendly_name>/set`: commands, a JSON object with the keys to
 *   change (`{"state":"ON"}`, `{"brightness":128}`, `{"position":50}`,
 *   `{"state":"LOCK"}`, `{"occupied_heating_setpoint":21.5}`, `{"system_mode":"heat"}`).
 * - `zigbee2mqtt/<friendly_name>/availability`: `{"state":"online"}` /
 *   `{"state":"offline"}` when availability is configured (plain `online` /
 *   `offline` in the legacy format).
 * - `zigbee2mqtt/bridge/devices` (retained): the device list, read by
 *   {@linkcode parseBridgeDevices} (exposes: https://www.zigbee2mqtt.io/guide/usage/exposes.html).
 *
 * The base topic (`zigbee2mqtt`) is configurable in Zigbee2MQTT; the binding's
 * `baseTopic` follows it. Not supported: colour, colour temperature, groups,
 * `/get` requests, covers' `tilt`.
 *
 * @module
 */
import type { DeviceState, DiscoveredDevice } from "../../broker/messages.ts";
import type { Binding } from "../../config/device_binding.ts";
import {
  type BoundDevice,
  desiredPower,
  fromPercent,
  jsonObject,
  numberIn,
  onOff,
  refused,
  type SchemeAdapter,
  toPercent,
} from "./adapter.ts";

type Z2mBinding = Extract<Binding, { scheme: "zigbee2mqtt" }>;

/** Zigbee2MQTT's default base topic. */
export const Z2M_BASE = "zigbee2mqtt";

const BRIGHTNESS_MAX = 254;

function base(device: BoundDevice<Z2mBinding>): string {
  return `${device.binding.baseTopic ?? Z2M_BASE}/${device.binding.friendlyName}`;
}

/** Reads the keys a device of `type` has from a Zigbee2MQTT state object. */
function decodeState(
  device: BoundDevice<Z2mBinding>,
  json: Record<string, unknown>,
): { ok: true; state: DeviceState } | { ok: false; reason: string } {
  const out: Record<string, string | number | boolean | null> = {};
  const has = (k: string) => Object.hasOwn(json, k);
  switch (device.type) {
    case "light":
    case "switch": {
      if (has("state")) {
        const power = onOff(json.state);
        if (!power) return { ok: false, reason: "state is not ON or OFF" };
        out.power = power;
      }
      if (device.type === "light" && device.dimmable && has("brightness")) {
        const b = numberIn(json.brightness, 0, BRIGHTNESS_MAX);
        if (b === undefined) return { ok: false, reason: "brightness is not 0-254" };
        out.brightness = toPercent(b, BRIGHTNESS_MAX);
      }
      break;
    }
    case "cover": {
      if (has("position")) {
        const p = numberIn(json.position, 0, 100);
        if (p === undefined) return { ok: false, reason: "position is not 0-100" };
        out.position = Math.round(p);
      }
      break;
    }
    case "lock": {
      const raw = has("lock_state") ? json.lock_state : json.state;
      if (raw !== undefined) {
        const v = typeof raw === "string" ? raw.toUpperCase() : "";
        if (v === "LOCK" || v === "LOCKED") out.locked = true;
        else if (v === "UNLOCK" || v === "UNLOCKED") out.locked = false;
        else return { ok: false, reason: "lock state is not LOCK or UNLOCK" };
      }
      break;
    }
    case "thermostat": {
      const key = has("occupied_heating_setpoint")
        ? "occupied_heating_setpoint"
        : "current_heating_setpoint";
      if (has(key)) {
        const t = numberIn(json[key], -50, 100);
        if (t === undefined) return { ok: false, reason: `${key} is not a temperature` };
        out.target = t;
      }
      if (has("system_mode")) {
        const m = json.system_mode;
        if (m !== "heat" && m !== "cool" && m !== "off") {
          return { ok: false, reason: "system_mode is not heat, cool or off" };
        }
        out.mode = m;
      }
      break;
    }
    case "sensor": {
      const metric = device.metric ?? "value";
      const key = device.binding.property ?? metric;
      if (has(key)) {
        const v = json[key];
        if (typeof v === "number" ? !Number.isFinite(v) : typeof v !== "boolean") {
          return { ok: false, reason: `${key} is not a number or boolean` };
        }
        out[metric] = v as number | boolean;
      }
      break;
    }
  }
  if (Object.keys(out).length === 0) return { ok: false, reason: "no field this device has" };
  return { ok: true, state: out };
}

/** The Zigbee2MQTT scheme. */
export const zigbee2mqttAdapter: SchemeAdapter<Z2mBinding> = {
  topics: (device) => [base(device), `${base(device)}/availability`],
  encode(device, command) {
    const topic = `${base(device)}/set`;
    const d = command.desired;
    let body: Record<string, unknown>;
    switch (device.type) {
      case "light":
      case "switch": {
        const { power, brightness } = desiredPower(command);
        body = { state: power.toUpperCase() };
        if (brightness !== undefined && brightness > 0) {
          body.brightness = fromPercent(brightness, BRIGHTNESS_MAX);
        }
        break;
      }
      case "cover":
        body = { position: d.position };
        break;
      case "lock":
        body = { state: d.locked ? "LOCK" : "UNLOCK" };
        break;
      case "thermostat":
        body = command.action === "mode"
          ? { system_mode: d.mode }
          : { occupied_heating_setpoint: d.target };
        break;
      default:
        return { ok: false, reason: `${device.type} takes no commands over Zigbee2MQTT` };
    }
    return { ok: true, value: [{ topic, payload: JSON.stringify(body) }] };
  },
  decode(device, topic, payload) {
    if (topic === `${base(device)}/availability`) {
      const text = payload.trim();
      let state: unknown = text;
      if (text.startsWith("{")) {
        const json = jsonObject(text);
        if (!json.ok) return refused(`availability: ${json.reason}`);
        state = json.value.state;
      }
      if (state === "online") return { kind: "availability", online: true };
      if (state === "offline") return { kind: "availability", online: false };
      return refused("availability is not online or offline");
    }
    const json = jsonObject(payload);
    if (!json.ok) return refused(json.reason);
    const state = decodeState(device, json.value);
    return state.ok ? { kind: "state", state: state.state } : refused(state.reason);
  },
};

/** Most devices read from one device list (the rest are counted as dropped). */
export const MAX_DISCOVERED = 500;

/**
 * Reads `zigbee2mqtt/bridge/devices`: every interviewed, supported device
 * becomes a discovered device whose type comes from its first expose that the
 * hub models (light, switch, cover, lock, climate, or a published numeric as a sensor).
 */
export function parseBridgeDevices(
  payload: string,
  baseTopic = Z2M_BASE,
): { ok: true; value: DiscoveredDevice[] } | { ok: false; reason: string } {
  let list: unknown;
  try {
    list = JSON.parse(payload);
  } catch {
    return { ok: false, reason: "malformed JSON" };
  }
  if (!Array.isArray(list)) return { ok: false, reason: "not a JSON array" };
  const out: DiscoveredDevice[] = [];
  for (const item of list.slice(0, MAX_DISCOVERED)) {
    const found = discoveredFrom(item, baseTopic);
    if (found) out.push(found);
  }
  return { ok: true, value: out };
}

function discoveredFrom(item: unknown, baseTopic: string): DiscoveredDevice | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const d = item as Record<string, unknown>;
  const ieee = d.ieee_address;
  const name = d.friendly_name;
  if (typeof ieee !== "string" || !/^0x[0-9a-fA-F]{16}$/.test(ieee)) return undefined;
  // deno-lint-ignore no-control-regex
  if (typeof name !== "string" || !/^[^+#\u0000-\u001f\u007f]{1,200}$/.test(name)) return undefined;
  if (d.type === "Coordinator") return undefined;
  const definition = d.definition;
  if (typeof definition !== "object" || definition === null) return undefined;
  const exposes = (definition as Record<string, unknown>).exposes;
  if (!Array.isArray(exposes)) return undefined;
  const binding = {
    scheme: "zigbee2mqtt",
    friendlyName: name,
    ...(baseTopic === Z2M_BASE ? {} : { baseTopic }),
  };
  const key = `zigbee2mqtt:${ieee.toLowerCase()}`;
  const display = name.slice(0, 80);
  for (const e of exposes) {
    if (typeof e !== "object" || e === null) continue;
    const expose = e as Record<string, unknown>;
    const features = Array.isArray(expose.features) ? expose.features : [];
    const featureNames = features.map((f) =>
      typeof f === "object" && f !== null ? (f as Record<string, unknown>).name : undefined
    );
    switch (expose.type) {
      case "light":
        return {
          key,
          name: display,
          suggestedType: "light",
          binding,
          dimmable: featureNames.includes("brightness"),
        };
      case "switch":
        return { key, name: display, suggestedType: "switch", binding };
      case "cover":
        return { key, name: display, suggestedType: "cover", binding };
      case "lock":
        return { key, name: display, suggestedType: "lock", binding };
      case "climate":
        return { key, name: display, suggestedType: "thermostat", binding };
    }
  }
  for (const e of exposes) {
    if (typeof e !== "object" || e === null) continue;
    const expose = e as Record<string, unknown>;
    const metric = expose.property;
    if (expose.type !== "numeric" || typeof metric !== "string" || expose.category) continue;
    if (!/^[a-z0-9_]{1,40}$/.test(metric)) continue;
    const unit = typeof expose.unit === "string" ? expose.unit.slice(0, 16) : undefined;
    return {
      key,
      name: display,
      suggestedType: "sensor",
      binding,
      metric,
      ...(unit === undefined ? {} : { unit }),
    };
  }
  return undefined;
}
