/**
 * The topic scheme modules (domain/adapters/): pure mappings between device
 * payloads and hub states, both ways, and their refusals.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeCommand, topicsOf } from "../domain/adapters/schemes.ts";
import type { BoundDevice } from "../domain/adapters/adapter.ts";
import { parseBridgeDevices } from "../domain/adapters/zigbee2mqtt.ts";
import { parseDiscoveryConfig } from "../domain/adapters/homeassistant.ts";
import { parseHome } from "../config/config.ts";

const ctx = { clientId: "hub", requestId: 7 };

const z2mLamp: BoundDevice = {
  id: "lamp",
  type: "light",
  dimmable: true,
  binding: { scheme: "zigbee2mqtt", friendlyName: "living/lamp" },
};

Deno.test("zigbee2mqtt adapter - brightness 0-100 maps to 0-254 both ways and bad values are refused", () => {
  const sent = encodeCommand(z2mLamp, {
    action: "brightness",
    args: ["50"],
    desired: { power: "on", brightness: 50 },
  }, ctx);
  assert.deepEqual(sent, {
    ok: true,
    value: [{ topic: "zigbee2mqtt/living/lamp/set", payload: '{"state":"ON","brightness":127}' }],
  });
  assert.deepEqual(
    decodeMessage(
      z2mLamp,
      "zigbee2mqtt/living/lamp",
      '{"state":"ON","brightness":254,"linkquality":9}',
    ),
    {
      kind: "state",
      state: { power: "on", brightness: 100 },
    },
  );
  assert.deepEqual(decodeMessage(z2mLamp, "zigbee2mqtt/living/lamp", '{"brightness":999}'), {
    kind: "refused",
    reason: "brightness is not 0-254",
  });
  assert.deepEqual(decodeMessage(z2mLamp, "zigbee2mqtt/living/lamp", '{"linkquality":9}'), {
    kind: "refused",
    reason: "no field this device has",
  });
  assert.deepEqual(decodeMessage(z2mLamp, "zigbee2mqtt/living/lamp/availability", "offline"), {
    kind: "availability",
    online: false,
  });
  assert.deepEqual(topicsOf(z2mLamp, "hub"), [
    "zigbee2mqtt/living/lamp",
    "zigbee2mqtt/living/lamp/availability",
  ]);
});

Deno.test("zigbee2mqtt adapter - covers, locks and thermostats use position, LOCK/UNLOCK and the setpoint", () => {
  const cover: BoundDevice = {
    id: "blind",
    type: "cover",
    binding: { scheme: "zigbee2mqtt", friendlyName: "blind" },
  };
  const lock: BoundDevice = {
    id: "door",
    type: "lock",
    binding: { scheme: "zigbee2mqtt", friendlyName: "door" },
  };
  const trv: BoundDevice = {
    id: "trv",
    type: "thermostat",
    binding: { scheme: "zigbee2mqtt", friendlyName: "trv" },
  };
  const payload = (
    d: BoundDevice,
    action: string,
    desired: Record<string, string | number | boolean>,
  ) => {
    const r = encodeCommand(d, { action, args: [], desired }, ctx);
    return r.ok ? r.value[0]!.payload : r.reason;
  };
  assert.equal(payload(cover, "position", { position: 30 }), '{"position":30}');
  assert.equal(payload(lock, "unlock", { locked: false }), '{"state":"UNLOCK"}');
  assert.equal(
    payload(trv, "set", { target: 21.5, mode: "heat" }),
    '{"occupied_heating_setpoint":21.5}',
  );
  assert.deepEqual(decodeMessage(lock, "zigbee2mqtt/door", '{"lock_state":"locked"}'), {
    kind: "state",
    state: { locked: true },
  });
  assert.deepEqual(
    decodeMessage(trv, "zigbee2mqtt/trv", '{"occupied_heating_setpoint":19,"system_mode":"off"}'),
    {
      kind: "state",
      state: { target: 19, mode: "off" },
    },
  );
});

Deno.test("tasmota adapter - relays use POWER<n>, RESULT of other commands is ignored, LWT gives availability", () => {
  const fan: BoundDevice = {
    id: "fan",
    type: "switch",
    binding: { scheme: "tasmota", topic: "fan", relay: 2 },
  };
  assert.deepEqual(
    encodeCommand(fan, { action: "toggle", args: [], desired: { power: "on" } }, ctx),
    {
      ok: true,
      value: [{ topic: "cmnd/fan/POWER2", payload: "ON" }],
    },
  );
  assert.deepEqual(decodeMessage(fan, "stat/fan/RESULT", '{"POWER2":"OFF"}'), {
    kind: "state",
    state: { power: "off" },
  });
  assert.deepEqual(decodeMessage(fan, "stat/fan/RESULT", '{"Timezone":99}'), { kind: "ignored" });
  assert.deepEqual(decodeMessage(fan, "tele/fan/LWT", "Offline"), {
    kind: "availability",
    online: false,
  });
  const probe: BoundDevice = {
    id: "probe",
    type: "sensor",
    metric: "temperature",
    binding: { scheme: "tasmota", topic: "probe", sensorPath: "DS18B20.Temperature" },
  };
  assert.deepEqual(decodeMessage(probe, "tele/probe/SENSOR", '{"DS18B20":{"Temperature":21.3}}'), {
    kind: "state",
    state: { temperature: 21.3 },
  });
});

Deno.test("shelly adapter - Switch.Set carries the client id as src; error replies name the request", () => {
  const relay: BoundDevice = {
    id: "relay",
    type: "switch",
    binding: { scheme: "shelly", prefix: "shelly1-ab" },
  };
  assert.deepEqual(
    encodeCommand(relay, { action: "on", args: [], desired: { power: "on" } }, ctx),
    {
      ok: true,
      value: [{
        topic: "shelly1-ab/rpc",
        payload: '{"id":7,"src":"hub","method":"Switch.Set","params":{"id":0,"on":true}}',
      }],
    },
  );
  assert.deepEqual(
    decodeMessage(
      relay,
      "hub/rpc",
      '{"id":7,"src":"shelly1-ab","error":{"code":-103,"message":"Invalid id"}}',
    ),
    {
      kind: "rejected",
      requestId: 7,
      reason: "Invalid id",
    },
  );
  assert.deepEqual(decodeMessage(relay, "shelly1-ab/status/switch:0", '{"id":0,"output":"yes"}'), {
    kind: "refused",
    reason: "output is not true or false",
  });
});

Deno.test("esphome adapter - switches are plain ON/OFF, locks LOCK/UNLOCK, sensors numbers", () => {
  const sw: BoundDevice = {
    id: "sw",
    type: "switch",
    binding: { scheme: "esphome", node: "n1", objectId: "relay" },
  };
  assert.deepEqual(encodeCommand(sw, { action: "off", args: [], desired: { power: "off" } }, ctx), {
    ok: true,
    value: [{ topic: "n1/switch/relay/command", payload: "OFF" }],
  });
  const temp: BoundDevice = {
    id: "t",
    type: "sensor",
    metric: "temperature",
    binding: { scheme: "esphome", node: "n1", objectId: "temp" },
  };
  assert.deepEqual(decodeMessage(temp, "n1/sensor/temp/state", "22.50"), {
    kind: "state",
    state: { temperature: 22.5 },
  });
  assert.deepEqual(decodeMessage(temp, "n1/sensor/temp/state", "NaN"), {
    kind: "refused",
    reason: "sensor state is not a finite number",
  });
});

Deno.test("zigbee2mqtt device list - interviewed devices become discovered devices; the coordinator and junk are left out", () => {
  const list = parseBridgeDevices(JSON.stringify([
    { ieee_address: "0x0000000000000001", type: "Coordinator", friendly_name: "Coordinator" },
    {
      ieee_address: "0x00158D0001A2B3C4",
      friendly_name: "kitchen/temp",
      definition: { exposes: [{ type: "numeric", property: "temperature", unit: "°C" }] },
    },
    "junk",
  ]));
  assert.deepEqual(list, {
    ok: true,
    value: [{
      key: "zigbee2mqtt:0x00158d0001a2b3c4",
      name: "kitchen/temp",
      suggestedType: "sensor",
      binding: { scheme: "zigbee2mqtt", friendlyName: "kitchen/temp" },
      metric: "temperature",
      unit: "°C",
    }],
  });
  assert.deepEqual(parseBridgeDevices("{}"), { ok: false, reason: "not a JSON array" });
});

Deno.test("home assistant discovery - abbreviations and ~ are expanded; wildcard topics are refused; empty payload removes", () => {
  const found = parseDiscoveryConfig(
    "homeassistant/light/node1/lamp/config",
    JSON.stringify({
      "~": "home/lamp",
      name: "Lamp",
      stat_t: "~/state",
      cmd_t: "~/set",
      schema: "json",
      brightness: true,
    }),
  );
  assert.deepEqual(found, {
    ok: true,
    value: {
      key: "homeassistant:light/node1/lamp",
      name: "Lamp",
      suggestedType: "light",
      binding: {
        scheme: "homeassistant",
        component: "light",
        stateTopic: "home/lamp/state",
        commandTopic: "home/lamp/set",
        schema: "json",
      },
      dimmable: true,
    },
  });
  assert.deepEqual(
    parseDiscoveryConfig("homeassistant/switch/x/config", JSON.stringify({ cmd_t: "a/+" })),
    {
      ok: false,
      reason: "a topic is not a valid MQTT topic",
    },
  );
  assert.deepEqual(parseDiscoveryConfig("homeassistant/switch/x/config", ""), {
    ok: true,
    value: null,
  });
});

Deno.test("home file - a binding that cannot drive its device type names the field", () => {
  const home = {
    name: "h",
    devices: [{
      id: "plug",
      type: "cover",
      name: "P",
      room: "r",
      binding: { scheme: "tasmota", topic: "p" },
    }],
    principals: [],
  };
  const parsed = parseHome(home, "home.json");
  assert.equal(parsed.ok, false);
  if (!parsed.ok) {
    assert.match(
      parsed.error.message,
      /home\.json: devices\.0\.binding: tasmota bindings drive light, switch, sensor, not cover/,
    );
  }
  const wild = parseHome({
    ...home,
    devices: [{
      ...home.devices[0]!,
      type: "switch",
      binding: { scheme: "tasmota", topic: "a/#" },
    }],
  }, "home.json");
  assert.equal(wild.ok, false);
});
