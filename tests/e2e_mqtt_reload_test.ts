/**
 * SIGHUP (the hub's reload) with an edited home file adds, changes and
 * removes declared devices at once, and the bridge follows the bindings.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { startMosquitto } from "./helpers/mosquitto.ts";
import { admin, boundHome, simClient, startBoundHub, until } from "./helpers/mqtt_harness.ts";

/** Tasmota plugs that answer cmnd/<topic>/POWER with stat/<topic>/RESULT. */
async function plugs(client: MqttClient, topics: string[]) {
  await client.subscribeAsync(topics.map((t) => `cmnd/${t}/POWER`), { qos: 1 });
  client.on("message", (topic, payload) => {
    const t = topic.split("/")[1]!;
    client.publish(`stat/${t}/RESULT`, JSON.stringify({ POWER: payload.toString() }));
  });
}

Deno.test("reload - devices added to the home file are driven at once, removed ones are gone, changed bindings are followed", async () => {
  await using broker = await startMosquitto();
  const plug = (id: string, topic: string) => ({
    id,
    type: "switch" as const,
    name: id,
    room: "hall",
    binding: { scheme: "tasmota" as const, topic },
  });
  const fixture = await startBoundHub(
    broker,
    boundHome([plug("a", "plug_a"), plug("b", "plug_b")]),
  );
  const device = await simClient(broker, "plugs");
  try {
    await plugs(device, ["plug_a", "plug_b", "plug_b2", "plug_c"]);
    await using c = await admin(fixture);
    assert.match(await c.ask("a on"), /^Command 'a on' received and executed\./);
    await Deno.writeTextFile(
      fixture.env.HOME_CONFIG!,
      JSON.stringify(boundHome([plug("b", "plug_b2"), plug("c", "plug_c"), {
        id: "lamp",
        type: "light",
        name: "Simulated lamp",
        room: "hall",
      }])),
    );
    const report = await fixture.hub.reload();
    assert.equal(report.ok, true);
    assert.match(await c.ask("status a"), /^Error unknown_device/);
    assert.match(await c.ask("lamp on"), /^Command 'lamp on' received and executed\./);
    await until(
      "the new plug to answer",
      async () => (await c.ask("c on")).startsWith("Command 'c on' received and executed."),
    );
    // b's binding moved to a new topic: the hub follows it.
    assert.match(await c.ask("b on"), /^Command 'b on' received and executed\./);
  } finally {
    await device.endAsync();
    await fixture.stop();
  }
});
