/**
 * A device bound with the Home Assistant discovery scheme (the topics and
 * payloads its discovery config announced), end to end over a real
 * Mosquitto: a JSON-schema light as Home Assistant's MQTT light documents it.
 *
 * @module
 */
import type { MqttClient } from "mqtt";
import { startMosquitto } from "./helpers/mosquitto.ts";
import {
  boundHome,
  Inbox,
  proveSchemeFlows,
  simClient,
  startBoundHub,
} from "./helpers/mqtt_harness.ts";

/** A JSON-schema light: commands on `<base>/set`, state on `<base>/state`, availability on `<base>/avail`. */
async function jsonLight(client: MqttClient, base: string, options: { silent?: boolean } = {}) {
  const state = { state: "OFF", brightness: 1000 };
  await client.subscribeAsync(`${base}/set`, { qos: 1 });
  await client.publishAsync(`${base}/avail`, "up", { retain: true, qos: 1 });
  client.on("message", (topic, payload) => {
    if (topic !== `${base}/set` || options.silent) return;
    Object.assign(state, JSON.parse(payload.toString()));
    client.publish(`${base}/state`, JSON.stringify(state));
  });
}

const light = (id: string, base: string, extra: Record<string, number> = {}) => ({
  id,
  type: "light" as const,
  dimmable: true,
  name: id,
  room: "hall",
  binding: {
    scheme: "homeassistant" as const,
    component: "light" as const,
    schema: "json" as const,
    brightnessScale: 1000,
    stateTopic: `${base}/state`,
    commandTopic: `${base}/set`,
    availabilityTopic: `${base}/avail`,
    payloadAvailable: "up",
    payloadNotAvailable: "down",
    ...extra,
  },
});

Deno.test("homeassistant scheme - a JSON light with its own brightness scale and availability payloads", async () => {
  await using broker = await startMosquitto();
  const fixture = await startBoundHub(
    broker,
    boundHome([
      light("hall", "home/hall"),
      light("attic", "home/attic", { confirmTimeoutMs: 300 }),
    ]),
  );
  const device = await simClient(broker, "ha-light");
  const spy = await simClient(broker, "spy");
  try {
    await jsonLight(device, "home/hall");
    await jsonLight(device, "home/attic", { silent: true });
    await spy.subscribeAsync("home/#", { qos: 1 });
    await proveSchemeFlows({
      fixture,
      seen: new Inbox(spy),
      device: "hall",
      command: {
        text: "hall brightness 25",
        topic: "home/hall/set",
        payload: JSON.stringify({ state: "ON", brightness: 250 }),
        replyShows: /brightness=25/,
      },
      byHand: {
        publish: () =>
          device.publishAsync("home/hall/state", JSON.stringify({ state: "ON", brightness: 800 })),
        statusShows: /power=on brightness=80/,
      },
      goOffline: () => device.publishAsync("home/hall/avail", "down", { retain: true }),
      silent: { device: "attic", command: "attic on", topic: "home/attic/set" },
    });
  } finally {
    await device.endAsync();
    await spy.endAsync();
    await fixture.stop();
  }
});
