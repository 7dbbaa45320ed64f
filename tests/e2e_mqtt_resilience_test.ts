/**
 * The MQTT bridge under a broker that goes away and comes back, and under
 * hostile broker input, against a real Mosquitto.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { MqttClient } from "mqtt";
import { startMosquitto } from "./helpers/mosquitto.ts";
import {
  admin,
  auditRows,
  boundHome,
  bridgeMetrics,
  bridgeReady,
  simClient,
  startBoundHub,
  until,
} from "./helpers/mqtt_harness.ts";
import { listenerPort } from "./helpers/hub_fixture.ts";

/** A Tasmota plug that answers cmnd/<topic>/POWER with stat/<topic>/RESULT. */
async function plug(client: MqttClient, topic: string) {
  await client.subscribeAsync(`cmnd/${topic}/POWER`, { qos: 1 });
  client.on("message", (t, payload) => {
    if (t === `cmnd/${topic}/POWER`) {
      client.publish(`stat/${topic}/RESULT`, JSON.stringify({ POWER: payload.toString() }));
    }
  });
}

const PLUG_HOME = boundHome([
  {
    id: "plug",
    type: "switch",
    name: "Plug",
    room: "hall",
    binding: { scheme: "tasmota", topic: "hall_plug" },
  },
]);

async function healthz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: response.status, body: await response.json() };
}

Deno.test("mqtt bridge - the broker stopped and started again: commands meanwhile get a clear error, then the bridge reconnects, resubscribes and works", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(broker, PLUG_HOME);
  let device = await simClient(broker, "plug");
  try {
    await plug(device, "hall_plug");
    await using c = await admin(fixture);
    assert.match(await c.ask("plug on"), /^Command 'plug on' received and executed\./);
    const http = listenerPort(fixture.hub, "http");
    const up = await healthz(http);
    assert.equal(up.status, 200);
    assert.deepEqual((up.body.listeners as Record<string, unknown>).mqtt, {
      up: true,
      port: broker.port,
    });

    await device.endAsync(true);
    await broker.stop();
    await until(
      "the bridge to notice",
      () => fixture.hub.listeners.get("mqtt")?.listening === false,
    );
    await until(
      "commands to be refused",
      async () =>
        /^Error unavailable: The MQTT broker 127\.0\.0\.1:\d+ is not connected: command not sent to plug/
          .test(
            await c.ask("plug off"),
          ),
    );
    const down = await healthz(http);
    assert.equal(down.status, 503);
    assert.equal((down.body.listeners as Record<string, { up: boolean }>).mqtt?.up, false);
    assert.match(await c.ask("status plug"), /power=on/);

    const acks = bridgeMetrics(fixture).subscribe_acks_total!;
    await broker.start();
    await bridgeReady(fixture, acks + 1);
    device = await simClient(broker, "plug");
    await plug(device, "hall_plug");
    assert.match(await c.ask("plug off"), /^Command 'plug off' received and executed\..*power=off/);
    assert.ok(bridgeMetrics(fixture).reconnects_total! >= 1);
    assert.equal((await healthz(http)).status, 200);
  } finally {
    await device.endAsync(true);
    await fixture.stop();
  }
});

Deno.test("mqtt bridge - hostile broker input is refused, counted and audited, changes nothing, and a good device is served afterwards", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(broker, PLUG_HOME, {
    env: { MQTT_MAX_PAYLOAD_BYTES: "4096", MQTT_REPORTS_PER_SECOND: "20" },
  });
  const attacker = await simClient(broker, "attacker");
  const device = await simClient(broker, "plug");
  try {
    await plug(device, "hall_plug");
    await using c = await admin(fixture);
    const before = await c.ask("status plug");
    const t = "stat/hall_plug/RESULT";
    await attacker.publishAsync(t, "{not json", { qos: 1 });
    await attacker.publishAsync(t, JSON.stringify({ POWER: "MAYBE", extra: { deep: [1, 2] } }), {
      qos: 1,
    });
    await attacker.publishAsync("stat/hall_plug/POWER", "42", { qos: 1 });
    await attacker.publishAsync(t, "x".repeat(10_000), { qos: 1 });
    await attacker.publishAsync(t, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { qos: 1 });
    await attacker.publishAsync("tele/hall_plug/LWT", "Maybe", { qos: 1 });
    // Retained garbage on the discovery topics.
    await attacker.publishAsync("zigbee2mqtt/bridge/devices", '[{"ieee_address":', {
      retain: true,
      qos: 1,
    });
    await attacker.publishAsync(
      "homeassistant/light/evil/x/config",
      JSON.stringify({ cmd_t: "a/#" }),
      {
        retain: true,
        qos: 1,
      },
    );
    // A flood: far beyond the per-topic rate.
    await Promise.all(
      Array.from(
        { length: 300 },
        () => attacker.publishAsync("stat/hall_plug/POWER", "OFF", { qos: 0 }),
      ),
    );
    await until("every hostile message to be counted", () => {
      const m = bridgeMetrics(fixture);
      return (m.messages_total ?? 0) >= 308;
    });
    const m = bridgeMetrics(fixture);
    const refused = Object.entries(m).filter(([k]) => k.startsWith("refused_total")).reduce(
      (a, [, v]) => a + v,
      0,
    );
    assert.ok(refused >= 8 + 250, `refused ${refused}: ${JSON.stringify(m)}`);
    assert.equal(await c.ask("status plug"), before);
    const metrics =
      await (await fetch(`http://127.0.0.1:${listenerPort(fixture.hub, "http")}/metrics`))
        .text();
    assert.match(metrics, /^hub_mqtt_refused_total\{reason="too_large"\} 1$/m);
    assert.match(metrics, /^hub_mqtt_refused_total\{reason="not_utf8"\} 1$/m);
    assert.match(metrics, /^hub_mqtt_refused_total\{reason="rate_limited"\} \d{3}$/m);
    await until(
      "the refusals' audit entries",
      () => auditRows(fixture).filter((r) => r.action === "mqtt.refused").length >= 8,
    );
    const reasons = auditRows(fixture).filter((r) => r.action === "mqtt.refused").map((r) =>
      String(r.detail?.reason)
    );
    assert.ok(reasons.includes("malformed JSON"), reasons.join("; "));
    assert.ok(reasons.some((r) => r.startsWith("too large: 10000 bytes")), reasons.join("; "));
    assert.ok(reasons.includes("malformed: not UTF-8"), reasons.join("; "));
    assert.ok(reasons.some((r) => r.startsWith("device list: malformed JSON")), reasons.join("; "));
    assert.ok(
      reasons.some((r) => r.startsWith("discovery config: a topic is not a valid")),
      reasons.join("; "),
    );
    assert.match(await c.ask("discovered"), /^Discovered: 0/);
    // A good device is still served.
    assert.match(await c.ask("plug on"), /^Command 'plug on' received and executed\..*power=on/);
    await attacker.publishAsync("zigbee2mqtt/bridge/devices", "", { retain: true, qos: 1 });
    await attacker.publishAsync("homeassistant/light/evil/x/config", "", { retain: true, qos: 1 });
    // The flood got one summary entry, not one entry per message (written at the latest on close).
    const entries = auditRows(fixture).length;
    await fixture.hub.listeners.get("mqtt")!.close();
    await until(
      "the flood's summary",
      () =>
        auditRows(fixture).some((r) =>
          r.action === "mqtt.rejected_summary" && r.detail?.reason === "rate_limited" &&
          Number(r.detail?.count) >= 250
        ),
    );
    assert.ok(auditRows(fixture).length < entries + 10);
  } finally {
    await attacker.endAsync();
    await device.endAsync();
    await fixture.stop();
  }
});

Deno.test("mqtt bridge - a fast series of commands all confirm although their reports exceed the per-topic rate", async () => {
  await using broker = await startMosquitto({ noDelay: true });
  const fixture = await startBoundHub(broker, PLUG_HOME, { env: { MQTT_REPORTS_PER_SECOND: "5" } });
  const device = await simClient(broker, "plug");
  try {
    await plug(device, "hall_plug");
    await using c = await admin(fixture);
    for (let i = 0; i < 40; i++) {
      const action = i % 2 ? "off" : "on";
      assert.match(
        await c.ask(`plug ${action}`),
        new RegExp(`^Command 'plug ${action}' received and executed\\.`),
      );
    }
    // Reports nobody asked for are still held to the rate.
    await Promise.all(
      Array.from(
        { length: 40 },
        () => device.publishAsync("stat/hall_plug/POWER", "ON", { qos: 0 }),
      ),
    );
    await until(
      "the unasked reports to be limited",
      () => (bridgeMetrics(fixture)['refused_total{reason="rate_limited"}'] ?? 0) >= 20,
    );
  } finally {
    await device.endAsync();
    await fixture.stop();
  }
});
