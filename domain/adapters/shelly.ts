/**
 * Shelly Gen2+ devices over MQTT, from Shelly's API documentation
 * (MQTT component, https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt;
 * Switch component, https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch):
 *
 * - RPC requests on `<prefix>/rpc`: `{"id":1,"src":"<client>","method":"Switch.Set",
 *   "params":{"id":0,"on":true}}`; the reply goes to `<src>/rpc`
 *   (`{"id":1,"src":"<device>","dst":"<client>","result":{"was_on":false}}`, or an
 *   `"error":{"code":..,"message":..}`).
 * - Status updates ("Generic status update over MQTT", `status_ntf`) on
 *   `<prefix>/status/switch:<id>`: the component's whole status
 *   (`{"id":0,"source":"button","output":true,"apower":8.9,...}`).
 * - `<prefix>/online`: `true` / `false` (retained; `false` is the last will).
 *
 * The prefix defaults to the device id (`shellyplus1-a8032ab12345`).
 * Supported: Switch components (switch, light on/off). Not supported: Cover,
 * Light (dimming), Gen1 devices (`shellies/...`).
 *
 * @module
 */
import type { Binding } from "../../config/device_binding.ts";
import { jsonObject, refused, type SchemeAdapter } from "./adapter.ts";

type ShellyBinding = Extract<Binding, { scheme: "shelly" }>;

/** The Shelly Gen2 scheme. */
export const shellyAdapter: SchemeAdapter<ShellyBinding> = {
  topics(device, clientId) {
    const p = device.binding.prefix;
    return [`${p}/status/switch:${device.binding.switchId ?? 0}`, `${p}/online`, `${clientId}/rpc`];
  },
  encode(device, command, context) {
    const request = {
      id: context.requestId,
      src: context.clientId,
      method: "Switch.Set",
      params: { id: device.binding.switchId ?? 0, on: command.desired.power === "on" },
    };
    return {
      ok: true,
      value: [{ topic: `${device.binding.prefix}/rpc`, payload: JSON.stringify(request) }],
    };
  },
  decode(device, topic, payload) {
    const p = device.binding.prefix;
    if (topic === `${p}/online`) {
      const text = payload.trim();
      if (text === "true") return { kind: "availability", online: true };
      if (text === "false") return { kind: "availability", online: false };
      return refused("online is not true or false");
    }
    const json = jsonObject(payload);
    if (!json.ok) return refused(json.reason);
    const v = json.value;
    if (topic.endsWith("/rpc")) {
      // A reply to one of our requests: only its error matters (the status update confirms).
      if (v.src !== p) return { kind: "ignored" };
      if (typeof v.id !== "number" || !Number.isSafeInteger(v.id)) {
        return refused("RPC reply without id");
      }
      if (typeof v.error === "object" && v.error !== null) {
        const message = (v.error as Record<string, unknown>).message;
        return {
          kind: "rejected",
          requestId: v.id,
          reason: typeof message === "string" ? message.slice(0, 200) : "RPC error",
        };
      }
      return { kind: "ignored" };
    }
    if (!Object.hasOwn(v, "output")) return { kind: "ignored" };
    if (typeof v.output !== "boolean") return refused("output is not true or false");
    return { kind: "state", state: { power: v.output ? "on" : "off" } };
  },
};
