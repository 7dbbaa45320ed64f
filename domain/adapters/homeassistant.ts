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
 *   removes the device. Read by {@linkcode parseDiscoveryConfig}.
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
import type { DiscoveredDevice } from "../../broker/messages.ts";
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

/** The discovery prefix Home Assistant uses by default. */
export const HA_PREFIX = "homeassistant";

const COMPONENT_TYPES: Readonly<Record<string, string>> = {
  switch: "switch",
  light: "light",
  sensor: "sensor",
  lock: "lock",
};

const ABBREVIATIONS: Readonly<Record<string, string>> = {
  stat_t: "state_topic",
  cmd_t: "command_topic",
  avty_t: "availability_topic",
  pl_on: "payload_on",
  pl_off: "payload_off",
  stat_on: "state_on",
  stat_off: "state_off",
  pl_avail: "payload_available",
  pl_not_avail: "payload_not_available",
  bri_scl: "brightness_scale",
  unit_of_meas: "unit_of_measurement",
  val_tpl: "value_template",
  uniq_id: "unique_id",
  dev_cla: "device_class",
  avty: "availability",
};

// deno-lint-ignore no-control-regex
const TOPIC = /^[^+#\u0000-\u001f\u007f]{1,200}$/;

/** What a discovery topic names, or undefined when it is not one. */
export function discoveryTopic(
  topic: string,
  prefix = HA_PREFIX,
): { component: string; node: string; object: string } | undefined {
  const parts = topic.split("/");
  if (parts[0] !== prefix || parts.at(-1) !== "config") return undefined;
  if (parts.length === 4) return { component: parts[1]!, node: "", object: parts[2]! };
  if (parts.length === 5) return { component: parts[1]!, node: parts[2]!, object: parts[3]! };
  return undefined;
}

/**
 * Reads one discovery config: a discovered device, `null` for an empty payload
 * (the device was removed), or why it is refused.
 */
export function parseDiscoveryConfig(
  topic: string,
  payload: string,
): { ok: true; value: DiscoveredDevice | null } | { ok: false; reason: string } {
  const where = discoveryTopic(topic);
  if (!where) return { ok: false, reason: "not a discovery topic" };
  if (payload.length === 0) return { ok: true, value: null };
  const json = jsonObject(payload);
  if (!json.ok) return json;
  const type = COMPONENT_TYPES[where.component];
  if (type === undefined) {
    return { ok: false, reason: `component ${where.component} is not supported` };
  }
  const c: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json.value)) c[ABBREVIATIONS[k] ?? k] = v;
  const tilde = typeof c["~"] === "string" ? c["~"] as string : undefined;
  const topicOf = (key: string): string | undefined | false => {
    let v = c[key];
    if (key === "availability_topic" && v === undefined && Array.isArray(c.availability)) {
      const first = c.availability[0];
      v = typeof first === "object" && first !== null
        ? (first as Record<string, unknown>).topic
        : undefined;
    }
    if (v === undefined) return undefined;
    if (typeof v !== "string") return false;
    const t = tilde === undefined
      ? v
      : v.startsWith("~")
      ? tilde + v.slice(1)
      : v.endsWith("~")
      ? v.slice(0, -1) + tilde
      : v;
    return TOPIC.test(t) ? t : false;
  };
  const stateTopic = topicOf("state_topic");
  const commandTopic = topicOf("command_topic");
  const availabilityTopic = topicOf("availability_topic");
  if (stateTopic === false || commandTopic === false || availabilityTopic === false) {
    return { ok: false, reason: "a topic is not a valid MQTT topic" };
  }
  if (stateTopic === undefined && type !== "switch" && type !== "light") {
    return { ok: false, reason: "no state_topic" };
  }
  if (commandTopic === undefined && type !== "sensor") {
    return { ok: false, reason: "no command_topic" };
  }
  const binding: { scheme: string; [key: string]: string | number | boolean } = {
    scheme: "homeassistant",
    component: where.component,
  };
  if (stateTopic) binding.stateTopic = stateTopic;
  if (commandTopic) binding.commandTopic = commandTopic;
  if (availabilityTopic) binding.availabilityTopic = availabilityTopic;
  if (stateTopic === undefined) binding.optimistic = true;
  const strings: [string, string][] = [
    ["payload_on", "payloadOn"],
    ["payload_off", "payloadOff"],
    ["state_on", "stateOn"],
    ["state_off", "stateOff"],
    ["payload_available", "payloadAvailable"],
    ["payload_not_available", "payloadNotAvailable"],
  ];
  for (const [from, to] of strings) {
    const v = c[from];
    if (v === undefined) continue;
    if (typeof v !== "string" || v.length > 64) {
      return { ok: false, reason: `${from} is not a short string` };
    }
    binding[to] = v;
  }
  let dimmable = false;
  if (type === "light" && c.schema === "json") {
    binding.schema = "json";
    dimmable = c.brightness === true;
    if (c.brightness_scale !== undefined) {
      const scale = numberIn(c.brightness_scale, 1, 65535);
      if (scale === undefined || !Number.isInteger(scale)) {
        return { ok: false, reason: "brightness_scale is not 1-65535" };
      }
      binding.brightnessScale = scale;
    }
  }
  let metric: string | undefined;
  let unit: string | undefined;
  if (type === "sensor") {
    const tpl = c.value_template;
    if (tpl !== undefined) {
      const m = typeof tpl === "string"
        ? /^\{\{\s*value_json\.([A-Za-z0-9_]{1,64})\s*\}\}$/.exec(tpl)
        : null;
      if (!m) return { ok: false, reason: "value_template is not {{ value_json.<key> }}" };
      binding.valueKey = m[1]!;
    }
    const cls = typeof c.device_class === "string" && /^[a-z0-9_]{1,40}$/.test(c.device_class)
      ? c.device_class
      : undefined;
    metric = cls ?? (where.object.replace(/[^a-z0-9_]/g, "_").slice(0, 40) || "value");
    if (typeof c.unit_of_measurement === "string") unit = c.unit_of_measurement.slice(0, 16);
  }
  const name = typeof c.name === "string" && c.name.length > 0
    ? c.name.slice(0, 80)
    : where.object.slice(0, 80);
  const key = `homeassistant:${where.component}/${
    where.node ? where.node + "/" : ""
  }${where.object}`;
  return {
    ok: true,
    value: {
      key,
      name,
      suggestedType: type,
      binding,
      ...(dimmable ? { dimmable } : {}),
      ...(metric === undefined ? {} : { metric }),
      ...(unit === undefined ? {} : { unit }),
    },
  };
}
