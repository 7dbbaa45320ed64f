import assert from "node:assert/strict";
import { join } from "node:path";
import { ActorSystem } from "../actors/actor_system.ts";
import { createMessage } from "../broker/envelope.ts";
import type { Message, Source } from "../broker/messages.ts";
import { createDeviceActor } from "../actors/device_actor.ts";
import { anonymousPrincipal } from "../domain/grants.ts";
import { parseHome } from "../config/config.ts";
import { REPO_ROOT } from "./helpers/hub_fixture.ts";
import { openDatabase } from "../persistence/database.ts";
import { DeviceStore } from "../persistence/device_store.ts";

const demo = (() => {
  const parsed = parseHome(
    JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, "config", "demo_home.json"))),
    "demo",
  );
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
})();

const as = (principal: string | null, channel: Source["channel"] = "tls"): Source => ({
  principal,
  channel,
});

async function withActor(
  fn: (broker: ActorSystem, dbPath: string) => Promise<void>,
  dir?: string,
): Promise<void> {
  const folder = dir ?? await Deno.makeTempDir({ prefix: "device_actor_" });
  const dbPath = join(folder, "hub.db");
  const broker = new ActorSystem();
  await broker.spawn(createDeviceActor({
    databasePath: dbPath,
    sync: "normal",
    home: demo,
    extraPrincipals: [anonymousPrincipal()],
  }));
  try {
    await fn(broker, dbPath);
  } finally {
    await broker.drain();
    if (!dir) await Deno.remove(folder, { recursive: true });
  }
}

async function command(broker: ActorSystem, who: string | null, text: string) {
  const [device, action, ...args] = text.split(" ");
  const asked = await broker.ask(
    createMessage("device.command", { device: device!, action: action!, args }, as(who)),
    { timeoutMs: 5000 },
  );
  assert.ok(asked.ok);
  return asked.reply.payload;
}

/** [principal, command, expected state fragment or error code]. */
const CASES: [string, string, Record<string, unknown> | string][] = [
  ["admin", "lamp on", { power: "on" }],
  ["admin", "lamp off", { power: "off" }],
  ["admin", "lamp toggle", { power: "on" }],
  ["admin", "lamp brightness 40", { power: "on", brightness: 40 }],
  ["admin", "lamp brightness 0", { power: "off", brightness: 0 }],
  ["admin", "lamp brightness 100", { brightness: 100 }],
  ["admin", "lamp brightness 101", "out_of_range"],
  ["admin", "lamp brightness -1", "out_of_range"],
  ["admin", "lamp brightness dim", "malformed"],
  ["admin", "lamp brightness 4.5", "malformed"],
  ["admin", "lamp brightness", "malformed"],
  ["admin", "lamp on now", "malformed"],
  ["admin", "lamp fly", "unsupported_action"],
  ["admin", "porch-light on", { power: "on" }],
  ["admin", "porch-light toggle", { power: "off" }],
  ["admin", "porch-light brightness 10", "unsupported_action"],
  ["admin", "thermostat set 21.5", { target: 21.5 }],
  ["admin", "thermostat set 5", { target: 5 }],
  ["admin", "thermostat set 30", { target: 30 }],
  ["admin", "thermostat set 30.5", "out_of_range"],
  ["admin", "thermostat set 4", "out_of_range"],
  ["admin", "thermostat set warm", "malformed"],
  ["admin", "thermostat set", "malformed"],
  ["admin", "thermostat mode cool", { mode: "cool" }],
  ["admin", "thermostat mode off", { mode: "off" }],
  ["admin", "thermostat mode heat", { mode: "heat" }],
  ["admin", "thermostat mode turbo", "out_of_range"],
  ["admin", "thermostat on", "unsupported_action"],
  ["admin", "front-door unlock", { locked: false }],
  ["admin", "front-door lock", { locked: true }],
  ["admin", "front-door lock 1", "malformed"],
  ["admin", "front-door open", "unsupported_action"],
  ["admin", "garage open", { position: 100 }],
  ["admin", "garage close", { position: 0 }],
  ["admin", "garage position 35", { position: 35 }],
  ["admin", "garage position 135", "out_of_range"],
  ["admin", "garage position half", "malformed"],
  ["admin", "garage lock", "unsupported_action"],
  ["admin", "hall-sensor report 21.25", { temperature: 21.25 }],
  ["admin", "hall-sensor report", "malformed"],
  ["admin", "hall-sensor on", "unsupported_action"],
  ["admin", "porch-camera snapshot", "unsupported_action"],
  ["admin", "cellar on", "unknown_device"],
  // Access lists.
  ["kitchen-panel", "lamp brightness 20", { brightness: 20 }],
  ["kitchen-panel", "thermostat set 19", { target: 19 }],
  ["kitchen-panel", "front-door unlock", "forbidden"],
  ["kitchen-panel", "garage open", "forbidden"],
  ["kitchen-panel", "hall-sensor report 3", "forbidden"],
  ["hall-button", "porch-light toggle", { power: "on" }],
  ["hall-button", "porch-light off", "forbidden"],
  ["hall-sensor", "hall-sensor report 19.5", { temperature: 19.5 }],
  ["hall-sensor", "lamp on", "forbidden"],
  ["nobody", "lamp on", "unauthenticated"],
  ["anonymous", "front-door unlock", { locked: false }],
];

Deno.test("device actor applies every action of every type and refuses bad ones with a specific code", async () => {
  await withActor(async (broker) => {
    for (const [who, text, expected] of CASES) {
      const outcome = await command(broker, who, text);
      if (typeof expected === "string") {
        assert.ok(!outcome.ok, `${who}: ${text} should be refused`);
        assert.equal(outcome.error.code, expected, `${who}: ${text}: ${outcome.error.message}`);
      } else {
        assert.ok(outcome.ok, `${who}: ${text}: ${!outcome.ok && outcome.error.message}`);
        for (const [key, value] of Object.entries(expected)) {
          assert.equal(outcome.value.state[key], value, `${who}: ${text}: ${key}`);
        }
      }
    }
  });
});

Deno.test("device actor refuses a command without a principal and changes nothing", async () => {
  await withActor(async (broker) => {
    const outcome = await command(broker, null, "front-door unlock");
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.code, "unauthenticated");
    const q = await broker.ask(
      createMessage("device.query", { device: "front-door" }, as("admin")),
      { timeoutMs: 5000 },
    );
    assert.ok(q.ok && q.reply.payload.ok);
    assert.equal(q.reply.payload.value[0]!.state.locked, true);
  });
});

Deno.test("device actor publishes one state change per applied command, none for refusals", async () => {
  await withActor(async (broker) => {
    const seen: Message<"device.state_changed">[] = [];
    const stop = broker.subscribe(["device.state_changed"], (m) => seen.push(m));
    await command(broker, "admin", "lamp brightness 30");
    await command(broker, "admin", "lamp brightness 300");
    await command(broker, "kitchen-panel", "front-door unlock");
    await command(broker, "admin", "garage open");
    await broker.settled();
    stop();
    assert.deepEqual(seen.map((m) => [m.payload.device, m.payload.state]), [
      ["lamp", { power: "on", brightness: 30 }],
      ["garage", { position: 100 }],
    ]);
    assert.deepEqual(seen[0]!.payload.previous, { power: "off", brightness: 100 });
  });
});

Deno.test("device actor records readings and camera snapshots", async () => {
  await withActor(async (broker) => {
    const reading = await broker.ask(
      createMessage(
        "device.reading",
        { device: "hall-sensor", metric: "temperature", value: 22.5 },
        as("hall-sensor", "udp"),
      ),
      { timeoutMs: 5000 },
    );
    assert.ok(reading.ok && reading.reply.payload.ok);
    assert.equal(reading.reply.payload.value.state.temperature, 22.5);
    const wrongMetric = await broker.ask(
      createMessage(
        "device.reading",
        { device: "hall-sensor", metric: "humidity", value: 40 },
        as("hall-sensor", "udp"),
      ),
      { timeoutMs: 5000 },
    );
    assert.ok(wrongMetric.ok && !wrongMetric.reply.payload.ok);
    assert.equal(wrongMetric.reply.payload.error.code, "unsupported_action");
    const notOwn = await broker.ask(
      createMessage(
        "device.reading",
        { device: "hall-button", metric: "press", value: 1 },
        as("hall-sensor", "udp"),
      ),
      { timeoutMs: 5000 },
    );
    assert.ok(notOwn.ok && !notOwn.reply.payload.ok);
    assert.equal(notOwn.reply.payload.error.code, "forbidden");

    broker.publish(createMessage("device.snapshot_stored", {
      device: "porch-camera",
      path: "cameras/porch/2024-01-01/a.jpg",
      size: 1234,
      sha256: "ab".repeat(32),
    }, as(null, "system")));
    await broker.settled();
    const q = await broker.ask(
      createMessage("device.query", { device: "porch-camera" }, as("admin")),
      { timeoutMs: 5000 },
    );
    assert.ok(q.ok && q.reply.payload.ok);
    const cam = q.reply.payload.value[0]!;
    assert.equal(cam.state.lastSnapshot, "cameras/porch/2024-01-01/a.jpg");
    assert.equal(cam.state.snapshotSize, 1234);
  });
});

Deno.test("device actor shows a principal only the devices it has grants on", async () => {
  await withActor(async (broker) => {
    const all = await broker.ask(
      createMessage("device.query", { device: null }, as("kitchen-panel")),
      {
        timeoutMs: 5000,
      },
    );
    assert.ok(all.ok && all.reply.payload.ok);
    assert.deepEqual(all.reply.payload.value.map((d) => d.id).sort(), [
      "hall-sensor",
      "lamp",
      "porch-light",
      "thermostat",
    ]);
    const hidden = await broker.ask(
      createMessage("device.query", { device: "front-door" }, as("kitchen-panel")),
      { timeoutMs: 5000 },
    );
    assert.ok(hidden.ok && !hidden.reply.payload.ok);
    assert.equal(hidden.reply.payload.error.code, "forbidden");
  });
});

Deno.test("device actor restores state from the database and drops rows that no longer fit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "device_actor_" });
  try {
    await withActor(async (broker) => {
      await command(broker, "admin", "lamp brightness 42");
      await command(broker, "admin", "front-door unlock");
      await command(broker, "admin", "thermostat set 18.5");
    }, dir);
    // A stored row whose type changed is ignored; unknown keys are dropped.
    const db = openDatabase(join(dir, "hub.db"));
    new DeviceStore(db).saveAll([
      { id: "garage", type: "lock", state: { locked: false }, updatedAt: null },
      {
        id: "porch-light",
        type: "switch",
        state: { power: "on", colour: "red" },
        updatedAt: "2024-01-01T00:00:00.000Z",
      },
    ]);
    db.close();
    await withActor(async (broker) => {
      const q = await broker.ask(createMessage("device.query", { device: null }, as("admin")), {
        timeoutMs: 5000,
      });
      assert.ok(q.ok && q.reply.payload.ok);
      const byId = new Map(q.reply.payload.value.map((d) => [d.id, d]));
      assert.deepEqual(byId.get("lamp")!.state, { power: "on", brightness: 42 });
      assert.deepEqual(byId.get("front-door")!.state, { locked: false });
      assert.equal(byId.get("thermostat")!.state.target, 18.5);
      assert.deepEqual(byId.get("garage")!.state, { position: 0 });
      assert.deepEqual(byId.get("porch-light")!.state, { power: "on" });
      assert.equal(byId.get("porch-light")!.updatedAt, "2024-01-01T00:00:00.000Z");
    }, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
