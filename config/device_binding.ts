/**
 * The `binding` of a home-file device: which real device it is and how to
 * reach it over MQTT. One schema per topic scheme (the schemes themselves are
 * in `domain/adapters/`); an unbound device stays simulated.
 *
 * ```json
 * { "id": "lamp", "type": "light", "dimmable": true, "name": "Lamp", "room": "living",
 *   "binding": { "scheme": "zigbee2mqtt", "friendlyName": "living/lamp" } }
 * ```
 *
 * @module
 */
import { z } from "zod";

/** One MQTT topic level or a path of levels, without wildcards (`+`, `#`) or control bytes. */
// deno-lint-ignore no-control-regex
const topicPath = z.string().min(1).max(200).regex(/^[^+#\u0000-\u001f\u007f]+$/, {
  message: "must be an MQTT topic without wildcards (+ #) or control characters",
}).refine((t) => !t.startsWith("/") && !t.endsWith("/") && !t.includes("//"), {
  message: "must not start or end with '/' or contain empty levels",
});

/** One topic level (no `/`). */
// deno-lint-ignore no-control-regex
const topicLevel = z.string().min(1).max(100).regex(/^[^+#/\u0000-\u001f\u007f]+$/, {
  message: "must be one MQTT topic level (no '/', '+', '#' or control characters)",
});

const common = {
  /** Acknowledge when published instead of waiting for the device's report (devices that never report). */
  optimistic: z.boolean().optional(),
  /** How long the device has to confirm a command (default MQTT_CONFIRM_TIMEOUT_MS). */
  confirmTimeoutMs: z.number().int().min(100).max(8000).optional(),
};

const zigbee2mqtt = z.object({
  scheme: z.literal("zigbee2mqtt"),
  /** The device's friendly name (or IEEE address) in Zigbee2MQTT. */
  friendlyName: topicPath,
  /** Zigbee2MQTT's `mqtt.base_topic`. */
  baseTopic: topicPath.optional(),
  /** Sensors: the key of the device's JSON that holds the reading (default: the device's metric). */
  property: z.string().min(1).max(64).optional(),
  ...common,
}).strict();

const tasmota = z.object({
  scheme: z.literal("tasmota"),
  /** Tasmota's `Topic` (the %topic% of the default FullTopic `%prefix%/%topic%/`). */
  topic: topicLevel,
  /** Relay number for devices with several (POWER1..POWER8); omitted: POWER. */
  relay: z.number().int().min(1).max(8).optional(),
  /** Sensors: the path in tele/<topic>/SENSOR, e.g. `DS18B20.Temperature`. */
  sensorPath: z.string().min(1).max(100).optional(),
  ...common,
}).strict();

const shelly = z.object({
  scheme: z.literal("shelly"),
  /** The device's MQTT topic prefix (default the device id, e.g. `shellyplus1-a8032ab12345`). */
  prefix: topicPath,
  /** The switch component id (`switch:<id>`). */
  switchId: z.number().int().min(0).max(15).optional(),
  ...common,
}).strict();

const esphome = z.object({
  scheme: z.literal("esphome"),
  /** The node's MQTT `topic_prefix` (default its name). */
  node: topicPath,
  /** The entity's object id (its name in snake case). */
  objectId: topicLevel,
  ...common,
}).strict();

const homeassistant = z.object({
  scheme: z.literal("homeassistant"),
  /** The discovery component (`switch`, `light`, `sensor`, `lock`, `cover`). */
  component: z.enum(["switch", "light", "sensor", "lock", "cover", "binary_sensor"]),
  stateTopic: topicPath.optional(),
  commandTopic: topicPath.optional(),
  availabilityTopic: topicPath.optional(),
  payloadOn: z.string().max(64).optional(),
  payloadOff: z.string().max(64).optional(),
  stateOn: z.string().max(64).optional(),
  stateOff: z.string().max(64).optional(),
  payloadAvailable: z.string().max(64).optional(),
  payloadNotAvailable: z.string().max(64).optional(),
  /** Lights: `json` (JSON state and commands) or `default` (plain payloads). */
  schema: z.enum(["json", "default"]).optional(),
  /** Lights: the device's brightness scale (HA's default 255). */
  brightnessScale: z.number().int().min(1).max(65535).optional(),
  /** Sensors: a key of the JSON state that holds the reading (from a `{{ value_json.key }}` template). */
  valueKey: z.string().min(1).max(64).optional(),
  ...common,
}).strict();

/** Every scheme's binding schema, discriminated on `scheme`. */
export const bindingSchema = z.discriminatedUnion("scheme", [
  zigbee2mqtt,
  tasmota,
  shelly,
  esphome,
  homeassistant,
]);

/** A validated binding. */
export type Binding = z.infer<typeof bindingSchema>;

/** The scheme names. */
export type Scheme = Binding["scheme"];

/** Device types each scheme can drive. */
export const SCHEME_TYPES: Readonly<Record<Scheme, readonly string[]>> = {
  zigbee2mqtt: ["light", "switch", "cover", "lock", "sensor", "thermostat"],
  tasmota: ["light", "switch", "sensor"],
  shelly: ["switch", "light"],
  esphome: ["light", "switch", "sensor", "lock"],
  homeassistant: ["light", "switch", "sensor", "lock", "cover"],
};

/** Why `binding` cannot drive a device of `type`, or undefined when it can. */
export function bindingProblem(
  binding: Binding,
  type: string,
  dimmable: boolean | undefined,
): string | undefined {
  const types = SCHEME_TYPES[binding.scheme];
  if (!types.includes(type)) {
    return `${binding.scheme} bindings drive ${types.join(", ")}, not ${type}`;
  }
  if (binding.scheme === "shelly" && dimmable) {
    return "shelly bindings drive Switch components only: remove dimmable";
  }
  if (binding.optimistic && type === "sensor") {
    return "sensors only report: optimistic does not apply";
  }
  return undefined;
}
