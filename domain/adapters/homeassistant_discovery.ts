/**
 * Home Assistant MQTT discovery configs
 * (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery): the
 * topic `homeassistant/<component>/[<node_id>/]<object_id>/config` and its
 * JSON object (abbreviated keys expanded, `~` topics resolved) read into a
 * discovered device with its `homeassistant` binding; an empty payload
 * removes the device. Bad configs are refused with the reason.
 *
 * @module
 */
import type { DiscoveredDevice } from "../../broker/messages.ts";
import { jsonObject, numberIn } from "./adapter.ts";

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

type Refusal = { ok: false; reason: string };
type Where = NonNullable<ReturnType<typeof discoveryTopic>>;
type ConfigBinding = { scheme: string; [key: string]: string | number | boolean };
/** A config with its abbreviated keys expanded. */
type Config = Record<string, unknown>;

/** The config with abbreviated keys (`stat_t`, `cmd_t`, ...) written out. */
function expandKeys(raw: Record<string, unknown>): Config {
  const c: Config = {};
  for (const [k, v] of Object.entries(raw)) c[ABBREVIATIONS[k] ?? k] = v;
  return c;
}

/**
 * A topic of the config with `~` resolved: undefined when absent, false when not a valid topic.
 * `availability_topic` falls back to the first entry of `availability`.
 */
function configTopic(c: Config, key: string): string | undefined | false {
  const tilde = typeof c["~"] === "string" ? c["~"] as string : undefined;
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
}

/** The binding's topics (a state topic unless optimistic, a command topic unless a sensor). */
function readTopics(c: Config, type: string, binding: ConfigBinding): Refusal | undefined {
  const stateTopic = configTopic(c, "state_topic");
  const commandTopic = configTopic(c, "command_topic");
  const availabilityTopic = configTopic(c, "availability_topic");
  if (stateTopic === false || commandTopic === false || availabilityTopic === false) {
    return { ok: false, reason: "a topic is not a valid MQTT topic" };
  }
  if (stateTopic === undefined && type !== "switch" && type !== "light") {
    return { ok: false, reason: "no state_topic" };
  }
  if (commandTopic === undefined && type !== "sensor") {
    return { ok: false, reason: "no command_topic" };
  }
  if (stateTopic) binding.stateTopic = stateTopic;
  if (commandTopic) binding.commandTopic = commandTopic;
  if (availabilityTopic) binding.availabilityTopic = availabilityTopic;
  if (stateTopic === undefined) binding.optimistic = true;
  return undefined;
}

const PAYLOAD_KEYS: readonly (readonly [string, string])[] = [
  ["payload_on", "payloadOn"],
  ["payload_off", "payloadOff"],
  ["state_on", "stateOn"],
  ["state_off", "stateOff"],
  ["payload_available", "payloadAvailable"],
  ["payload_not_available", "payloadNotAvailable"],
];

/** The on/off and availability payloads (each a short string). */
function readPayloads(c: Config, binding: ConfigBinding): Refusal | undefined {
  for (const [from, to] of PAYLOAD_KEYS) {
    const v = c[from];
    if (v === undefined) continue;
    if (typeof v !== "string" || v.length > 64) {
      return { ok: false, reason: `${from} is not a short string` };
    }
    binding[to] = v;
  }
  return undefined;
}

/** A JSON-schema light: dimmable or not, and its brightness scale. */
function readJsonLight(c: Config, binding: ConfigBinding): Refusal | { dimmable: boolean } {
  binding.schema = "json";
  if (c.brightness_scale !== undefined) {
    const scale = numberIn(c.brightness_scale, 1, 65535);
    if (scale === undefined || !Number.isInteger(scale)) {
      return { ok: false, reason: "brightness_scale is not 1-65535" };
    }
    binding.brightnessScale = scale;
  }
  return { dimmable: c.brightness === true };
}

/** A sensor's value key (from its template), metric and unit. */
function readSensor(
  c: Config,
  where: Where,
  binding: ConfigBinding,
): Refusal | { metric: string; unit: string | undefined } {
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
  const metric = cls ?? (where.object.replace(/[^a-z0-9_]/g, "_").slice(0, 40) || "value");
  const unit = typeof c.unit_of_measurement === "string"
    ? c.unit_of_measurement.slice(0, 16)
    : undefined;
  return { metric, unit };
}

/** The discovered device's key and name (the config's name, else the object id). */
function identity(c: Config, where: Where): { key: string; name: string } {
  const name = typeof c.name === "string" && c.name.length > 0
    ? c.name.slice(0, 80)
    : where.object.slice(0, 80);
  const key = `homeassistant:${where.component}/${
    where.node ? where.node + "/" : ""
  }${where.object}`;
  return { key, name };
}

/**
 * Reads one discovery config: a discovered device, `null` for an empty payload
 * (the device was removed), or why it is refused.
 */
export function parseDiscoveryConfig(
  topic: string,
  payload: string,
): { ok: true; value: DiscoveredDevice | null } | Refusal {
  const where = discoveryTopic(topic);
  if (!where) return { ok: false, reason: "not a discovery topic" };
  if (payload.length === 0) return { ok: true, value: null };
  const json = jsonObject(payload);
  if (!json.ok) return json;
  const type = COMPONENT_TYPES[where.component];
  if (type === undefined) {
    return { ok: false, reason: `component ${where.component} is not supported` };
  }
  const c = expandKeys(json.value);
  const binding: ConfigBinding = { scheme: "homeassistant", component: where.component };
  const refused = readTopics(c, type, binding) ?? readPayloads(c, binding);
  if (refused) return refused;
  let dimmable = false;
  if (type === "light" && c.schema === "json") {
    const light = readJsonLight(c, binding);
    if ("ok" in light) return light;
    dimmable = light.dimmable;
  }
  let metric: string | undefined;
  let unit: string | undefined;
  if (type === "sensor") {
    const sensor = readSensor(c, where, binding);
    if ("ok" in sensor) return sensor;
    ({ metric, unit } = sensor);
  }
  return {
    ok: true,
    value: {
      ...identity(c, where),
      suggestedType: type,
      binding,
      ...(dimmable ? { dimmable } : {}),
      ...(metric === undefined ? {} : { metric }),
      ...(unit === undefined ? {} : { unit }),
    },
  };
}
