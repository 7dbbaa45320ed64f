/**
 * Devices that announce themselves with Home Assistant's MQTT discovery
 * (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery; per
 * component: https://www.home-assistant.io/integrations/switch.mqtt/,
 * light.mqtt, sensor.mqtt, lock.mqtt):
 *
 * - configs are retained on `homeassistant/<component>/[<node_id>/]<object_id>/config`,
 *   a JSON object whose keys may be abbreviated (`stat_t` state_topic, `cmd_t`
 *   command_topic, `avty_t` availability_topic, `pl_on`/`pl_off`, ...) and whose
 *   topics may start or end with `~` (the `~` key's value); an empty payload
 *   removes the device. Read by `parseDiscoveryConfig` (homeassistant_discovery.ts).
 * - switch: command `payload_on`/`payload_off` (default `ON`/`OFF`), state
 *   `state_on`/`state_off` (default the payloads); light with `schema: json`: JSON
 *   both ways (`{"state":"ON","brightness":..}`, scale `brightness_scale`, default
 *   255); default-schema lights: on/off only; lock: `LOCK`/`UNLOCK`, states
 *   `LOCKED`/`UNLOCKED`; sensor: the state as a number, or the key of a
 *   `{{ value_json.<key> }}` template.
 * - availability: `payload_available`/`payload_not_available` (default
 *   `online`/`offline`).
 *
 * Not supported: templates other than `{{ value_json.<key> }}`, covers,
 * climate, several availability topics (the first is used).
 *
 * @module
 */
import type { Binding } from "../../config/device_binding.ts";
import {
  type BoundDevice,
  desiredPower,
  fromPercent,
  jsonObject,
  numberIn,
  pathValue,
  plainNumber,
  refused,
  type SchemeAdapter,
  toPercent,
} from "./adapter.ts";

export { discoveryTopic, HA_PREFIX, parseDiscoveryConfig } from "./homeassistant_discovery.ts";

type HaBinding = Extract<Binding, { scheme: "homeassistant" }>;

function isJsonLight(device: BoundDevice<HaBinding>): boolean {
  return device.type === "light" && device.binding.schema === "json";
}

/** The Home Assistant discovery scheme (topics as announced). */
export const homeassistantAdapter: SchemeAdapter<HaBinding> = {
  topics(device) {
    const b = device.binding;
    return [b.stateTopic, b.availabilityTopic].filter((t): t is string => t !== undefined);
  },
  encode(device, command) {
    const b = device.binding;
    if (b.commandTopic === undefined) {
      return { ok: false, reason: "the device has no command topic" };
    }
    const topic = b.commandTopic;
    if (device.type === "lock") {
      return { ok: true, value: [{ topic, payload: command.desired.locked ? "LOCK" : "UNLOCK" }] };
    }
    if (device.type !== "light" && device.type !== "switch") {
      return { ok: false, reason: `${device.type} takes no commands over this binding` };
    }
    const { power, brightness } = desiredPower(command);
    if (isJsonLight(device)) {
      const body: Record<string, unknown> = { state: power.toUpperCase() };
      if (brightness !== undefined && brightness > 0) {
        body.brightness = fromPercent(brightness, b.brightnessScale ?? 255);
      }
      return { ok: true, value: [{ topic, payload: JSON.stringify(body) }] };
    }
    const payload = power === "on" ? (b.payloadOn ?? "ON") : (b.payloadOff ?? "OFF");
    return { ok: true, value: [{ topic, payload }] };
  },
  decode(device, topic, payload) {
    const b = device.binding;
    const text = payload.trim();
    if (topic === b.availabilityTopic && topic !== b.stateTopic) {
      if (text === (b.payloadAvailable ?? "online")) return { kind: "availability", online: true };
      if (text === (b.payloadNotAvailable ?? "offline")) {
        return { kind: "availability", online: false };
      }
      return refused("availability payload is neither available nor not available");
    }
    switch (device.type) {
      case "sensor": {
        let value: unknown = plainNumber(text);
        if (b.valueKey !== undefined) {
          const json = jsonObject(text);
          if (!json.ok) return refused(json.reason);
          value = pathValue(json.value, b.valueKey);
        }
        return typeof value === "number" && Number.isFinite(value)
          ? { kind: "state", state: { [device.metric ?? "value"]: value } }
          : refused("sensor state is not a finite number");
      }
      case "lock":
        if (text === "LOCKED") return { kind: "state", state: { locked: true } };
        if (text === "UNLOCKED") return { kind: "state", state: { locked: false } };
        return refused("lock state is not LOCKED or UNLOCKED");
    }
    if (isJsonLight(device)) {
      const json = jsonObject(text);
      if (!json.ok) return refused(json.reason);
      const s = typeof json.value.state === "string" ? json.value.state.toUpperCase() : undefined;
      if (s !== "ON" && s !== "OFF") return refused("state is not ON or OFF");
      const state: Record<string, string | number> = { power: s === "ON" ? "on" : "off" };
      if (device.dimmable && Object.hasOwn(json.value, "brightness")) {
        const scale = b.brightnessScale ?? 255;
        const v = numberIn(json.value.brightness, 0, scale);
        if (v === undefined) return refused(`brightness is not 0-${scale}`);
        state.brightness = toPercent(v, scale);
      }
      return { kind: "state", state };
    }
    const on = b.stateOn ?? b.payloadOn ?? "ON";
    const off = b.stateOff ?? b.payloadOff ?? "OFF";
    if (text === on) return { kind: "state", state: { power: "on" } };
    if (text === off) return { kind: "state", state: { power: "off" } };
    return refused("state is neither the on nor the off payload");
  },
};
