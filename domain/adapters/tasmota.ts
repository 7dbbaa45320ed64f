/**
 * Tasmota's topic scheme, from its documentation (MQTT, https://tasmota.github.io/docs/MQTT/;
 * commands, https://tasmota.github.io/docs/Commands/). With the default FullTopic
 * `%prefix%/%topic%/`:
 *
 * - `cmnd/<topic>/POWER` (or `POWER<n>` for relay n) with `ON`, `OFF` or `TOGGLE`;
 *   `cmnd/<topic>/Dimmer` with 0-100.
 * - `stat/<topic>/RESULT`: the JSON result of any command (`{"POWER":"ON"}`,
 *   `{"POWER":"ON","Dimmer":56}`, see arendst/Sonoff-Tasmota#1360);
 *   `stat/<topic>/POWER`: the plain power state (`ON` / `OFF`).
 * - `tele/<topic>/STATE`: periodic JSON state (`"POWER":"OFF"`, `"Dimmer":10`, ...);
 *   `tele/<topic>/SENSOR`: periodic sensor JSON (`{"DS18B20":{"Temperature":21.3}}`).
 * - `tele/<topic>/LWT`: `Online` / `Offline` (retained; the broker publishes
 *   `Offline` as the last will).
 *
 * Supported: switch and light (POWER, Dimmer), sensor (a path into SENSOR).
 * Not supported: a custom FullTopic, colour, shutters.
 *
 * @module
 */
import type { Binding } from "../../config/device_binding.ts";
import {
  type BoundDevice,
  desiredPower,
  jsonObject,
  numberIn,
  onOff,
  pathValue,
  refused,
  type SchemeAdapter,
} from "./adapter.ts";

type TasmotaBinding = Extract<Binding, { scheme: "tasmota" }>;

function powerKey(device: BoundDevice<TasmotaBinding>): string {
  return device.binding.relay === undefined ? "POWER" : `POWER${device.binding.relay}`;
}

/** The Tasmota scheme. */
export const tasmotaAdapter: SchemeAdapter<TasmotaBinding> = {
  topics(device) {
    const t = device.binding.topic;
    if (device.type === "sensor") return [`tele/${t}/SENSOR`, `tele/${t}/LWT`];
    return [
      `stat/${t}/RESULT`,
      `stat/${t}/${powerKey(device)}`,
      `tele/${t}/STATE`,
      `tele/${t}/LWT`,
    ];
  },
  encode(device, command) {
    const t = device.binding.topic;
    if (device.type === "sensor") return { ok: false, reason: "sensors take no commands" };
    const { power, brightness } = desiredPower(command);
    if (brightness !== undefined && brightness > 0) {
      return { ok: true, value: [{ topic: `cmnd/${t}/Dimmer`, payload: String(brightness) }] };
    }
    return {
      ok: true,
      value: [{ topic: `cmnd/${t}/${powerKey(device)}`, payload: power.toUpperCase() }],
    };
  },
  decode(device, topic, payload) {
    const t = device.binding.topic;
    if (topic === `tele/${t}/LWT`) {
      const text = payload.trim();
      if (text === "Online") return { kind: "availability", online: true };
      if (text === "Offline") return { kind: "availability", online: false };
      return refused("LWT is not Online or Offline");
    }
    if (topic === `stat/${t}/${powerKey(device)}`) {
      const power = onOff(payload.trim());
      return power ? { kind: "state", state: { power } } : refused("POWER is not ON or OFF");
    }
    const json = jsonObject(payload);
    if (!json.ok) return refused(json.reason);
    if (topic === `tele/${t}/SENSOR`) {
      const metric = device.metric ?? "value";
      const path = device.binding.sensorPath ?? metric;
      const v = pathValue(json.value, path);
      if (v === undefined) return { kind: "ignored" };
      if (typeof v !== "number" || !Number.isFinite(v)) {
        return refused(`${path} is not a finite number`);
      }
      return { kind: "state", state: { [metric]: v } };
    }
    // RESULT (of any command) or STATE: only the keys this device has.
    const key = powerKey(device);
    const state: Record<string, string | number> = {};
    const raw = Object.hasOwn(json.value, key)
      ? json.value[key]
      : key === "POWER1" && Object.hasOwn(json.value, "POWER")
      ? json.value.POWER
      : undefined;
    if (raw !== undefined) {
      const power = onOff(raw);
      if (!power) return refused(`${key} is not ON or OFF`);
      state.power = power;
    }
    if (device.type === "light" && device.dimmable && Object.hasOwn(json.value, "Dimmer")) {
      const d = numberIn(json.value.Dimmer, 0, 100);
      if (d === undefined) return refused("Dimmer is not 0-100");
      state.brightness = Math.round(d);
    }
    return Object.keys(state).length ? { kind: "state", state } : { kind: "ignored" };
  },
};
