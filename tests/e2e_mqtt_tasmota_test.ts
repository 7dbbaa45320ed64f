/**
 * Tasmota devices end to end over a real Mosquitto: the simulator behaves as
 * Tasmota's MQTT documentation says (cmnd/<topic>/POWER and Dimmer in,
 * stat/<topic>/RESULT and POWER out, tele/<topic>/LWT Online/Offline).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { startMosquitto } from "./helpers/mosquitto.ts";
import {
  admin,
  boundHome,
  Inbox,
  proveSchemeFlows,
  simClient,
  startBoundHub,
} from "./helpers/mqtt_harness.ts";

/** A Tasmota dimmer: answers cmnd POWER/Dimmer with stat RESULT and stat POWER, like the firmware. */
async function tasmotaSimulator(
  client: MqttClient,
  topic: string,
  options: { silent?: boolean } = {},
) {
  const state = { POWER: "OFF", Dimmer: 100 };
  await client.subscribeAsync(`cmnd/${topic}/+`, { qos: 1 });
  await client.publishAsync(`tele/${topic}/LWT`, "Online", { retain: true, qos: 1 });
  client.on("message", (t, payload) => {
    if (!t.startsWith(`cmnd/${topic}/`) || options.silent) return;
    const command = t.slice(`cmnd/${topic}/`.length).toUpperCase();
    const value = payload.toString();
    if (command === "POWER") {
      state.POWER = value === "TOGGLE" ? (state.POWER === "ON" ? "OFF" : "ON") : value;
      client.publish(`stat/${topic}/RESULT`, JSON.stringify({ POWER: state.POWER }));
      client.publish(`stat/${topic}/POWER`, state.POWER);
    } else if (command === "DIMMER") {
      state.Dimmer = Number(value);
      state.POWER = state.Dimmer > 0 ? "ON" : "OFF";
      client.publish(`stat/${topic}/RESULT`, JSON.stringify(state));
    }
  });
  return state;
}

Deno.test("tasmota - POWER and Dimmer commands are confirmed by stat/RESULT; LWT Offline refuses; silence times out", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(
    broker,
    boundHome([
      {
        id: "desk",
        type: "light",
        dimmable: true,
        name: "Desk lamp",
        room: "office",
        binding: { scheme: "tasmota", topic: "desk_dimmer" },
      },
      {
        id: "fan",
        type: "switch",
        name: "Fan",
        room: "office",
        binding: { scheme: "tasmota", topic: "fan_plug", relay: 2, confirmTimeoutMs: 300 },
      },
    ]),
  );
  const device = await simClient(broker, "tasmota");
  const spy = await simClient(broker, "spy");
  try {
    const desk = await tasmotaSimulator(device, "desk_dimmer");
    await tasmotaSimulator(device, "fan_plug", { silent: true });
    await spy.subscribeAsync("#", { qos: 1 });
    const seen = new Inbox(spy);
    await proveSchemeFlows({
      fixture,
      seen,
      device: "desk",
      command: {
        text: "desk brightness 30",
        topic: "cmnd/desk_dimmer/Dimmer",
        payload: "30",
        replyShows: /brightness=30/,
      },
      byHand: {
        // The button on the device: Tasmota publishes stat/POWER and RESULT.
        publish: () => device.publishAsync("stat/desk_dimmer/POWER", "OFF"),
        statusShows: /power=off brightness=30/,
      },
      goOffline: () => device.publishAsync("tele/desk_dimmer/LWT", "Offline", { retain: true }),
      silent: { device: "fan", command: "fan on", topic: "cmnd/fan_plug/POWER2" },
    });
    assert.equal(desk.Dimmer, 30);
    assert.equal(seen.messages.find((m) => m.topic === "cmnd/fan_plug/POWER2")?.payload, "ON");
  } finally {
    await device.endAsync();
    await spy.endAsync();
    await fixture.stop();
  }
});

Deno.test("tasmota - an optimistic device is acknowledged once the command is published, with no report", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(
    broker,
    boundHome([{
      id: "dumb",
      type: "switch",
      name: "Plug that never reports",
      room: "hall",
      binding: { scheme: "tasmota", topic: "dumb_plug", optimistic: true },
    }]),
  );
  const spy = await simClient(broker, "spy");
  try {
    await spy.subscribeAsync("cmnd/dumb_plug/#", { qos: 1 });
    const seen = new Inbox(spy);
    await using c = await admin(fixture);
    assert.match(await c.ask("dumb on"), /^Command 'dumb on' received and executed\..*power=on/);
    assert.equal((await seen.next("cmnd/dumb_plug/POWER")).payload, "ON");
    assert.match(await c.ask("status dumb"), /^Status dumb: power=on/);
  } finally {
    await spy.endAsync();
    await fixture.stop();
  }
});
