/**
 * Picks the topic scheme of a bound device and calls it with the binding
 * narrowed to that scheme. The one place that lists every scheme.
 *
 * @module
 */
import type { Binding } from "../../config/device_binding.ts";
import { bindingSchema } from "../../config/device_binding.ts";
import type {
  AdapterCommand,
  BoundDevice,
  Decoded,
  EncodeContext,
  Outgoing,
  SchemeAdapter,
} from "./adapter.ts";
import { zigbee2mqttAdapter } from "./zigbee2mqtt.ts";
import { tasmotaAdapter } from "./tasmota.ts";
import { shellyAdapter } from "./shelly.ts";
import { esphomeAdapter } from "./esphome.ts";
import { homeassistantAdapter } from "./homeassistant.ts";

/** Calls `use` with the device's scheme adapter and the device typed for it. */
function withAdapter<R>(
  device: BoundDevice,
  use: <B extends Binding>(adapter: SchemeAdapter<B>, device: BoundDevice<B>) => R,
): R {
  const b = device.binding;
  switch (b.scheme) {
    case "zigbee2mqtt":
      return use(zigbee2mqttAdapter, { ...device, binding: b });
    case "tasmota":
      return use(tasmotaAdapter, { ...device, binding: b });
    case "shelly":
      return use(shellyAdapter, { ...device, binding: b });
    case "esphome":
      return use(esphomeAdapter, { ...device, binding: b });
    case "homeassistant":
      return use(homeassistantAdapter, { ...device, binding: b });
  }
}

/** The topics to subscribe to for a bound device. */
export function topicsOf(device: BoundDevice, clientId: string): readonly string[] {
  return withAdapter(device, (a, d) => a.topics(d, clientId));
}

/** The messages that carry a command to a bound device. */
export function encodeCommand(
  device: BoundDevice,
  command: AdapterCommand,
  context: EncodeContext,
): { ok: true; value: readonly Outgoing[] } | { ok: false; reason: string } {
  return withAdapter(device, (a, d) => a.encode(d, command, context));
}

/** What a message on one of the device's topics says. */
export function decodeMessage(device: BoundDevice, topic: string, payload: string): Decoded {
  return withAdapter(device, (a, d) => a.decode(d, topic, payload));
}

/**
 * A bound device from the device actor's `device.bindings_changed` entry (the
 * binding re-validated: it crossed the broker as plain JSON), or undefined.
 */
export function boundDeviceOf(entry: {
  readonly id: string;
  readonly type: string;
  readonly binding: { readonly [key: string]: unknown };
}): BoundDevice | undefined {
  const { dimmable, metric, ...rest } = entry.binding;
  const parsed = bindingSchema.safeParse(rest);
  if (!parsed.success) return undefined;
  return {
    id: entry.id,
    type: entry.type,
    binding: parsed.data,
    ...(dimmable === true ? { dimmable: true } : {}),
    ...(typeof metric === "string" ? { metric } : {}),
  };
}
