/**
 * Shelly Gen2 and ESPHome devices end to end over a real Mosquitto. The
 * Shelly simulator answers `Switch.Set` RPCs on `<src>/rpc` and publishes its
 * status on `<id>/status/switch:0` and `<id>/online`, as Shelly's API docs
 * say; the ESPHome simulator uses `<node>/<component>/<object>/state|command`
 * and `<node>/status`, as ESPHome's MQTT component does.
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

async function shellySimulator(client: MqttClient, id: string, options: { silent?: boolean } = {}) {
  const status = { id: 0, source: "init", output: false, apower: 0 };
  await client.subscribeAsync(`${id}/rpc`, { qos: 1 });
  await client.publishAsync(`${id}/online`, "true", { retain: true, qos: 1 });
  client.on("message", (topic, payload) => {
    if (topic !== `${id}/rpc` || options.silent) return;
    const request = JSON.parse(payload.toString());
    if (request.method !== "Switch.Set") {
      client.publish(
        `${request.src}/rpc`,
        JSON.stringify({
          id: request.id,
          src: id,
          dst: request.src,
          error: { code: 404, message: "No handler" },
        }),
      );
      return;
    }
    const wasOn = status.output;
    status.output = request.params.on;
    status.source = "MQTT";
    client.publish(
      `${request.src}/rpc`,
      JSON.stringify({ id: request.id, src: id, dst: request.src, result: { was_on: wasOn } }),
    );
    client.publish(`${id}/status/switch:0`, JSON.stringify(status));
  });
  return status;
}

async function esphomeSimulator(
  client: MqttClient,
  node: string,
  object: string,
  options: { silent?: boolean } = {},
) {
  const light = { state: "OFF", brightness: 255 };
  const base = `${node}/light/${object}`;
  await client.subscribeAsync(`${base}/command`, { qos: 1 });
  await client.publishAsync(`${node}/status`, "online", { retain: true, qos: 1 });
  client.on("message", (topic, payload) => {
    if (topic !== `${base}/command` || options.silent) return;
    Object.assign(light, JSON.parse(payload.toString()));
    client.publish(`${base}/state`, JSON.stringify({ ...light, color_mode: "brightness" }));
  });
  return light;
}

Deno.test("shelly - Switch.Set over RPC is confirmed by the switch status; online false refuses; silence times out", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(
    broker,
    boundHome([
      {
        id: "heater",
        type: "switch",
        name: "Heater",
        room: "bath",
        binding: { scheme: "shelly", prefix: "shellyplus1-a8032ab1" },
      },
      {
        id: "pump",
        type: "switch",
        name: "Pump",
        room: "garden",
        binding: { scheme: "shelly", prefix: "shellyplus1-deadbeef", confirmTimeoutMs: 300 },
      },
    ]),
  );
  const device = await simClient(broker, "shelly");
  const spy = await simClient(broker, "spy");
  try {
    const heater = await shellySimulator(device, "shellyplus1-a8032ab1");
    await shellySimulator(device, "shellyplus1-deadbeef", { silent: true });
    await spy.subscribeAsync("#", { qos: 1 });
    const seen = new Inbox(spy);
    const clientId = fixture.env.MQTT_CLIENT_ID!;
    await proveSchemeFlows({
      fixture,
      seen,
      device: "heater",
      command: {
        text: "heater on",
        topic: "shellyplus1-a8032ab1/rpc",
        payload: JSON.stringify({
          id: 1,
          src: clientId,
          method: "Switch.Set",
          params: { id: 0, on: true },
        }),
        replyShows: /power=on/,
      },
      byHand: {
        publish: () =>
          device.publishAsync(
            "shellyplus1-a8032ab1/status/switch:0",
            JSON.stringify({ id: 0, source: "button", output: false }),
          ),
        statusShows: /power=off/,
      },
      goOffline: () =>
        device.publishAsync("shellyplus1-a8032ab1/online", "false", { retain: true }),
      silent: { device: "pump", command: "pump on", topic: "shellyplus1-deadbeef/rpc" },
    });
    assert.equal(heater.source, "MQTT");
    // The device's RPC reply went to the hub's own topic.
    assert.ok(
      seen.messages.some((m) => m.topic === `${clientId}/rpc` && JSON.parse(m.payload).result),
    );
  } finally {
    await device.endAsync();
    await spy.endAsync();
    await fixture.stop();
  }
});

Deno.test("esphome - a light command is its JSON on /command, confirmed by /state; status offline refuses; silence times out", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(
    broker,
    boundHome([
      {
        id: "strip",
        type: "light",
        dimmable: true,
        name: "LED strip",
        room: "kitchen",
        binding: { scheme: "esphome", node: "kitchen-node", objectId: "led_strip" },
      },
      {
        id: "spot",
        type: "light",
        name: "Spot",
        room: "kitchen",
        binding: { scheme: "esphome", node: "spot-node", objectId: "spot", confirmTimeoutMs: 300 },
      },
    ]),
  );
  const device = await simClient(broker, "esphome");
  const spy = await simClient(broker, "spy");
  try {
    const strip = await esphomeSimulator(device, "kitchen-node", "led_strip");
    await esphomeSimulator(device, "spot-node", "spot", { silent: true });
    await spy.subscribeAsync("#", { qos: 1 });
    const seen = new Inbox(spy);
    await proveSchemeFlows({
      fixture,
      seen,
      device: "strip",
      command: {
        text: "strip brightness 50",
        topic: "kitchen-node/light/led_strip/command",
        payload: JSON.stringify({ state: "ON", brightness: 128 }),
        replyShows: /brightness=50/,
      },
      byHand: {
        publish: () =>
          device.publishAsync(
            "kitchen-node/light/led_strip/state",
            JSON.stringify({ state: "OFF", brightness: 128 }),
          ),
        statusShows: /power=off brightness=50/,
      },
      goOffline: () => device.publishAsync("kitchen-node/status", "offline", { retain: true }),
      silent: { device: "spot", command: "spot on", topic: "spot-node/light/spot/command" },
    });
    assert.equal(strip.brightness, 128);
  } finally {
    await device.endAsync();
    await spy.endAsync();
    await fixture.stop();
  }
});

Deno.test("shelly - an RPC error reply fails the command at once with the device's words", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(
    broker,
    boundHome([{
      id: "relay",
      type: "switch",
      name: "Relay",
      room: "hall",
      binding: { scheme: "shelly", prefix: "shellypro4pm-c0ffee", switchId: 3 },
    }]),
  );
  const device = await simClient(broker, "shelly");
  try {
    // A device without switch:3 answers as Shelly's RPC does: an error with a code and a message.
    await device.subscribeAsync("shellypro4pm-c0ffee/rpc", { qos: 1 });
    device.on("message", (_topic, payload) => {
      const request = JSON.parse(payload.toString());
      device.publish(
        `${request.src}/rpc`,
        JSON.stringify({
          id: request.id,
          src: "shellypro4pm-c0ffee",
          dst: request.src,
          error: { code: -105, message: "Argument 'id', value 3 not found!" },
        }),
      );
    });
    await using c = await admin(fixture);
    assert.equal(
      await c.ask("relay on"),
      "Error unavailable: Not sent to relay: the device answered: Argument 'id', value 3 not found!",
    );
    assert.match(await c.ask("status relay"), /power=off/);
  } finally {
    await device.endAsync();
    await fixture.stop();
  }
});
