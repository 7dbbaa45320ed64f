/**
 * Zigbee2MQTT devices end to end, over a real Mosquitto with TLS and a
 * password file: the simulator behaves as Zigbee2MQTT's "MQTT Topics and
 * Messages" page says (state JSON on `zigbee2mqtt/<name>`, commands on
 * `/set`, availability on `/availability`).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { startMosquitto } from "./helpers/mosquitto.ts";
import {
  admin,
  auditRows,
  boundHome,
  BROKER_USER,
  Inbox,
  simClient,
  startBoundHub,
  until,
} from "./helpers/mqtt_harness.ts";

/** A Zigbee2MQTT bridge with one dimmable bulb (brightness 0-254), answering `/set` with its new state. */
async function zigbee2mqttSimulator(
  client: MqttClient,
  name: string,
  options: { silent?: boolean } = {},
) {
  const state: Record<string, unknown> = { state: "OFF", brightness: 254, linkquality: 120 };
  await client.subscribeAsync(`zigbee2mqtt/${name}/set`, { qos: 1 });
  await client.publishAsync(
    `zigbee2mqtt/${name}/availability`,
    JSON.stringify({ state: "online" }),
    {
      retain: true,
      qos: 1,
    },
  );
  client.on("message", (topic, payload) => {
    if (topic !== `zigbee2mqtt/${name}/set` || options.silent) return;
    Object.assign(state, JSON.parse(payload.toString()));
    client.publish(`zigbee2mqtt/${name}`, JSON.stringify(state), { qos: 1 });
  });
  return state;
}

Deno.test("zigbee2mqtt - a TLS command reaches the bulb as its /set JSON and is acknowledged once the bulb reports it", async () => {
  await using broker = await startMosquitto({ tls: true, user: BROKER_USER });
  const fixture = await startBoundHub(
    broker,
    boundHome([
      {
        id: "lamp",
        type: "light",
        dimmable: true,
        name: "Lamp",
        room: "living",
        binding: { scheme: "zigbee2mqtt", friendlyName: "living/lamp" },
      },
      {
        id: "silent",
        type: "switch",
        name: "Silent plug",
        room: "hall",
        binding: { scheme: "zigbee2mqtt", friendlyName: "hall/plug", confirmTimeoutMs: 300 },
      },
    ]),
  );
  const bulb = await simClient(broker, "z2m");
  const spy = await simClient(broker, "spy");
  try {
    const bulbState = await zigbee2mqttSimulator(bulb, "living/lamp");
    await zigbee2mqttSimulator(bulb, "hall/plug", { silent: true });
    await spy.subscribeAsync("zigbee2mqtt/#", { qos: 1 });
    const seen = new Inbox(spy);
    await using watcher = await admin(fixture);
    assert.match(await watcher.ask("subscribe lamp"), /^Subscribed/);
    await using c = await admin(fixture);

    // Command -> exact payload on the exact topic -> report -> state, audit, push -> positive reply.
    const reply = await c.ask("lamp brightness 40");
    assert.match(reply, /^Command 'lamp brightness 40' received and executed\. State: lamp /);
    assert.match(reply, /power=on/);
    assert.match(reply, /brightness=40/);
    const sent = await seen.next("zigbee2mqtt/living/lamp/set");
    assert.deepEqual(JSON.parse(sent.payload), { state: "ON", brightness: 102 });
    assert.equal(bulbState.brightness, 102);
    const event = await watcher.readLine();
    assert.match(event ?? "", /^Event lamp: .*power=on/);
    assert.match(event ?? "", /brightness=40/);
    await until(
      "the command's audit entry",
      () =>
        auditRows(fixture, "lamp").some((r) => r.action === "device.command" && r.outcome === "ok"),
    );
    const rows = auditRows(fixture, "lamp");
    const report = rows.find((r) =>
      r.action === "device.report" && r.detail?.by === "confirmation"
    );
    assert.equal(report?.principal, "device:lamp");
    assert.equal(report?.channel, "mqtt");
    assert.equal((report?.detail?.confirms as string[]).length, 1);
    assert.equal(report?.detail?.topic, "zigbee2mqtt/living/lamp");

    // Changed by hand: the bulb reports on its own; recorded with the device as the source.
    const before = seen.messages.length;
    await bulb.publishAsync(
      "zigbee2mqtt/living/lamp",
      JSON.stringify({ state: "OFF", brightness: 102 }),
    );
    assert.match((await watcher.readLine()) ?? "", /^Event lamp: power=off/);
    assert.match(await c.ask("status lamp"), /^Status lamp: power=off brightness=40/);
    await until(
      "the by-hand report's audit entry",
      () =>
        auditRows(fixture, "lamp").some((r) =>
          r.action === "device.report" && r.detail?.by === "device"
        ),
    );

    // Offline: refused at once, nothing sent.
    await bulb.publishAsync(
      "zigbee2mqtt/living/lamp/availability",
      JSON.stringify({ state: "offline" }),
      {
        retain: true,
      },
    );
    await until("the offline report", () => seen.messages.length > before + 1);
    await until(
      "the hub to know it is offline",
      async () => /device_offline/.test(await c.ask("lamp on")),
    );
    let handedOut = 0;
    const stop = fixture.hub.broker.subscribe(["device.adapter_command"], () => handedOut++);
    assert.match(await c.ask("lamp on"), /^Error device_offline: lamp is offline/);
    stop();
    assert.equal(handedOut, 0);
    assert.match(await c.ask("status lamp"), /power=off/);

    // Never answers: device_timeout, nothing claimed applied, audited as sent but not confirmed.
    const timeout = await c.ask("silent on");
    assert.match(
      timeout,
      /^Error device_timeout: Sent to silent, but it did not confirm within 300 ms/,
    );
    assert.deepEqual(JSON.parse((await seen.next("zigbee2mqtt/hall/plug/set")).payload), {
      state: "ON",
    });
    assert.match(await c.ask("status silent"), /^Status silent: power=off/);
    await until(
      "the timeout's audit entry",
      () => auditRows(fixture, "silent").some((r) => r.code === "device_timeout"),
    );
    const failed = auditRows(fixture, "silent").find((r) => r.code === "device_timeout");
    assert.equal(failed?.outcome, "failed");
    assert.equal(failed?.detail?.sent, true);
    assert.equal(failed?.detail?.confirmed, false);
    assert.ok(
      !auditRows(fixture, "silent").some((r) =>
        r.action === "device.command" && r.outcome === "ok"
      ),
    );
  } finally {
    await bulb.endAsync();
    await spy.endAsync();
    await fixture.stop();
  }
});

Deno.test("zigbee2mqtt - a cover is confirmed only when it reaches the position; a sensor's readings become its state", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(
    broker,
    boundHome([
      {
        id: "blind",
        type: "cover",
        name: "Blind",
        room: "living",
        binding: { scheme: "zigbee2mqtt", friendlyName: "living/blind" },
      },
      {
        id: "climate",
        type: "sensor",
        metric: "temperature",
        unit: "°C",
        name: "Climate",
        room: "living",
        binding: { scheme: "zigbee2mqtt", friendlyName: "living/climate" },
      },
    ]),
  );
  const device = await simClient(broker, "z2m");
  try {
    // A blind that moves in steps, reporting each position on the way, as covers do.
    await device.subscribeAsync("zigbee2mqtt/living/blind/set", { qos: 1 });
    device.on("message", (topic, payload) => {
      if (topic !== "zigbee2mqtt/living/blind/set") return;
      const target = JSON.parse(payload.toString()).position as number;
      for (const position of [20, 40, target]) {
        device.publish("zigbee2mqtt/living/blind", JSON.stringify({ position, linkquality: 80 }));
      }
    });
    await using c = await admin(fixture);
    assert.match(
      await c.ask("blind position 70"),
      /^Command 'blind position 70' received and executed\..*position=70/,
    );
    const reports = auditRows(fixture, "blind").filter((r) => r.action === "device.report");
    assert.deepEqual(reports.map((r) => r.detail?.by), ["device", "device", "confirmation"]);

    await device.publishAsync(
      "zigbee2mqtt/living/climate",
      JSON.stringify({ temperature: 21.5, humidity: 40 }),
    );
    await until("the reading", async () => /temperature=21\.5/.test(await c.ask("status climate")));
    await device.publishAsync("zigbee2mqtt/living/climate", JSON.stringify({ temperature: "hot" }));
    await until(
      "the refusal",
      () => auditRows(fixture).some((r) => r.action === "mqtt.refused" && r.device === "climate"),
    );
    assert.match(await c.ask("status climate"), /temperature=21\.5/);
  } finally {
    await device.endAsync();
    await fixture.stop();
  }
});
