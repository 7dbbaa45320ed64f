/**
 * ESPHome's MQTT component, from its documentation
 * (MQTT Client Component, https://esphome.io/components/mqtt.html) and its
 * source (`MQTTComponent::get_default_topic_for_` in mqtt_component.cpp builds
 * `<topic_prefix>/<component_type>/<object_id>/<suffix>`):
 *
 * - state on `<node>/<component>/<object_id>/state`, commands on
 *   `<node>/<component>/<object_id>/command`;
 * - switch: `ON` / `OFF`; lock: state `LOCKED` / `UNLOCKED` (also `JAMMED`,
 *   `LOCKING`, `UNLOCKING`), command `LOCK` / `UNLOCK`; sensor: the number as text;
 * - light: JSON both ways (`{"state":"ON","brightness":255}`, brightness 0-255);
 * - availability on `<node>/status`: `online` (birth message) / `offline` (will).
 *
 * `<node>` is the `topic_prefix` (default: the node's name). Not supported:
 * covers, climate, colour, custom state or command topics.
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
  onOff,
  plainNumber,
  refused,
  type SchemeAdapter,
  toPercent,
} from "./adapter.ts";

type EsphomeBinding = Extract<Binding, { scheme: "esphome" }>;

const BRIGHTNESS_MAX = 255;

function base(device: BoundDevice<EsphomeBinding>): string {
  const component = device.type === "light"
    ? "light"
    : device.type === "lock"
    ? "lock"
    : device.type === "sensor"
    ? "sensor"
    : "switch";
  return `${device.binding.node}/${component}/${device.binding.objectId}`;
}

/** The ESPHome scheme. */
export const esphomeAdapter: SchemeAdapter<EsphomeBinding> = {
  topics: (device) => [`${base(device)}/state`, `${device.binding.node}/status`],
  encode(device, command) {
    const topic = `${base(device)}/command`;
    switch (device.type) {
      case "light": {
        const { power, brightness } = desiredPower(command);
        const body: Record<string, unknown> = { state: power.toUpperCase() };
        if (brightness !== undefined && brightness > 0) {
          body.brightness = fromPercent(brightness, BRIGHTNESS_MAX);
        }
        return { ok: true, value: [{ topic, payload: JSON.stringify(body) }] };
      }
      case "switch":
        return {
          ok: true,
          value: [{ topic, payload: command.desired.power === "on" ? "ON" : "OFF" }],
        };
      case "lock":
        return {
          ok: true,
          value: [{ topic, payload: command.desired.locked ? "LOCK" : "UNLOCK" }],
        };
      default:
        return { ok: false, reason: `${device.type} takes no commands over ESPHome` };
    }
  },
  decode(device, topic, payload) {
    if (topic === `${device.binding.node}/status`) {
      const text = payload.trim();
      if (text === "online") return { kind: "availability", online: true };
      if (text === "offline") return { kind: "availability", online: false };
      return refused("status is not online or offline");
    }
    const text = payload.trim();
    switch (device.type) {
      case "switch": {
        const power = onOff(text);
        return power ? { kind: "state", state: { power } } : refused("state is not ON or OFF");
      }
      case "lock": {
        if (text === "LOCKED") return { kind: "state", state: { locked: true } };
        if (text === "UNLOCKED") return { kind: "state", state: { locked: false } };
        if (["JAMMED", "LOCKING", "UNLOCKING", "NONE"].includes(text)) return { kind: "ignored" };
        return refused("lock state is not LOCKED or UNLOCKED");
      }
      case "sensor": {
        const n = plainNumber(text);
        return n === undefined
          ? refused("sensor state is not a finite number")
          : { kind: "state", state: { [device.metric ?? "value"]: n } };
      }
      default: {
        const json = jsonObject(text);
        if (!json.ok) return refused(json.reason);
        const power = onOff(json.value.state);
        if (!power) return refused("state is not ON or OFF");
        const state: Record<string, string | number> = { power };
        if (device.dimmable && Object.hasOwn(json.value, "brightness")) {
          const b = numberIn(json.value.brightness, 0, BRIGHTNESS_MAX);
          if (b === undefined) return refused("brightness is not 0-255");
          state.brightness = toPercent(b, BRIGHTNESS_MAX);
        }
        return { kind: "state", state };
      }
    }
  },
};
