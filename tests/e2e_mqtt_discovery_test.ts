/**
 * Discovery and adoption against a real Mosquitto: a retained Zigbee2MQTT
 * device list and a retained Home Assistant discovery config become
 * discovered devices; adopting one (CLI and TLS) makes it controllable with
 * no restart, audited, and it is still there after a restart.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { startMosquitto } from "./helpers/mosquitto.ts";
import { listenerPort, REPO_ROOT, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import {
  admin,
  auditRows,
  boundHome,
  simClient,
  startBoundHub,
  until,
} from "./helpers/mqtt_harness.ts";

const BULB_IEEE = "0x00158d0001a2b3c4";

/** Zigbee2MQTT's retained device list: the coordinator, a dimmable bulb, and an entry it cannot use. */
const DEVICE_LIST = [
  { ieee_address: "0x00124b0000000001", type: "Coordinator", friendly_name: "Coordinator" },
  {
    ieee_address: BULB_IEEE,
    type: "Router",
    friendly_name: "hall/bulb",
    definition: {
      model: "LED1545G12",
      vendor: "IKEA",
      exposes: [
        { type: "light", features: [{ name: "state" }, { name: "brightness" }] },
        { type: "numeric", name: "linkquality", property: "linkquality", category: "diagnostic" },
      ],
    },
  },
  { ieee_address: "not-an-address", friendly_name: 42 },
];

/** Answers /set like Zigbee2MQTT and a plain HA-style switch, for the adopted devices. */
async function devices(client: MqttClient) {
  await client.subscribeAsync(["zigbee2mqtt/hall/bulb/set", "garden/plug1/set"], { qos: 1 });
  const bulb: Record<string, unknown> = { state: "OFF", brightness: 254 };
  client.on("message", (topic, payload) => {
    if (topic === "zigbee2mqtt/hall/bulb/set") {
      Object.assign(bulb, JSON.parse(payload.toString()));
      client.publish("zigbee2mqtt/hall/bulb", JSON.stringify(bulb));
    } else if (topic === "garden/plug1/set") {
      client.publish("garden/plug1/state", payload.toString() === "1" ? "on" : "off");
    }
  });
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(REPO_ROOT, "client", "cli.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

Deno.test("discovery - retained Zigbee2MQTT and Home Assistant announcements are adopted without a restart and survive one", async () => {
  await using broker = await startMosquitto();
  const announcer = await simClient(broker, "announcer");
  await announcer.publishAsync("zigbee2mqtt/bridge/devices", JSON.stringify(DEVICE_LIST), {
    retain: true,
    qos: 1,
  });
  await announcer.publishAsync(
    "homeassistant/switch/plug1/relay/config",
    JSON.stringify({
      name: "Garden plug",
      "~": "garden/plug1",
      stat_t: "~/state",
      cmd_t: "~/set",
      pl_on: "1",
      pl_off: "0",
      stat_on: "on",
      stat_off: "off",
    }),
    { retain: true, qos: 1 },
  );
  await devices(announcer);
  const dir = await Deno.makeTempDir({ prefix: "hub_discovery_" });
  let fixture = await startBoundHub(broker, boundHome([]), { dir, keepDir: true });
  try {
    {
      await using c = await admin(fixture);
      let listing = "";
      await until("both announcements", async () => {
        await c.send("discovered\n");
        const first = (await c.readLine()) ?? "";
        const count = Number(/^Discovered: (\d+)/.exec(first)?.[1] ?? "0");
        const lines = [first];
        for (let i = 0; i < count; i++) lines.push((await c.readLine()) ?? "");
        listing = lines.join("\n");
        return count === 2;
      });
      assert.match(
        listing,
        new RegExp(`zigbee2mqtt:${BULB_IEEE} \\(light, dimmable\\): hall/bulb`),
      );
      assert.match(listing, /homeassistant:switch\/plug1\/relay \(switch\): Garden plug/);

      // Adopt the bulb with the CLI, the plug over TLS: both controllable at once.
      const adopted = await cli([
        "device",
        "adopt",
        `zigbee2mqtt:${BULB_IEEE}`,
        "bulb",
        "hall",
        "Hall",
        "bulb",
        "--port",
        String(listenerPort(fixture.hub, "tls")),
        "--ca",
        fixture.env.SSL_CERT!,
        "--token",
        TEST_SECRETS.token("admin"),
      ]);
      assert.equal(adopted.code, 0, adopted.stderr);
      assert.match(adopted.stdout, /^Adopted bulb\s+light\s+hall/);
      assert.equal(
        await c.ask("adopt homeassistant:switch/plug1/relay plug garden Garden plug"),
        "Adopted plug (switch, garden) from homeassistant:switch/plug1/relay",
      );
      assert.match(
        await c.ask("adopt homeassistant:switch/plug1/relay plug2 garden Again"),
        /^Error exists:/,
      );
      assert.match(
        await c.ask("adopt zigbee2mqtt:0x0000000000000000 x hall X"),
        /^Error not_found:/,
      );
      await until(
        "the bulb to answer",
        async () =>
          /^Command 'bulb brightness 50' received and executed\..*brightness=50/.test(
            await c.ask("bulb brightness 50"),
          ),
      );
      assert.match(await c.ask("plug on"), /^Command 'plug on' received and executed\..*power=on/);
      const adoptions = auditRows(fixture).filter((r) => r.action === "device.adopt");
      assert.deepEqual(adoptions.map((r) => [r.device, r.principal, r.outcome]), [
        ["bulb", "admin", "ok"],
        ["plug", "admin", "ok"],
        ["plug2", "admin", "rejected"],
        ["x", "admin", "rejected"],
      ]);
    }
    await fixture.stop();
    fixture = await startBoundHub(broker, boundHome([]), { dir, keepDir: true });
    {
      await using c = await admin(fixture);
      assert.match(await c.ask("status bulb"), /^Status bulb: power=on brightness=50/);
      await until(
        "the restarted hub to drive the bulb",
        async () =>
          (await c.ask("bulb off")).startsWith("Command 'bulb off' received and executed."),
      );
      assert.equal(await c.ask("remove plug"), "Removed plug");
      assert.match(await c.ask("status plug"), /^Error unknown_device/);
      assert.match(await c.ask("remove bulb"), /^Removed bulb/);
    }
  } finally {
    await announcer.endAsync();
    await fixture.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
