/**
 * Measures a confirmed command to a real-device binding end to end on
 * loopback: TLS command -> hub -> Mosquitto -> a Zigbee2MQTT-style simulator
 * -> its state report -> confirmation -> reply, one command at a time.
 *
 * `--simulated` measures the same with an unbound (simulated) device, for comparison.
 *
 * Usage: deno run --allow-read --allow-write --allow-net --allow-env --allow-run --allow-sys bench/mqtt_roundtrip.ts [count] [--simulated] [--nodelay]
 *
 * @module
 */
import { startMosquitto } from "../tests/helpers/mosquitto.ts";
import { admin, boundHome, simClient, startBoundHub } from "../tests/helpers/mqtt_harness.ts";

const count = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? "300");
const simulated = Deno.args.includes("--simulated");
// Mosquitto's default Nagle delay adds about 40 ms per confirmation on loopback; --nodelay sets
// `set_tcp_nodelay true` on the broker.
await using broker = await startMosquitto({ noDelay: Deno.args.includes("--nodelay") });
const fixture = await startBoundHub(
  broker,
  boundHome([{
    id: "lamp",
    type: "switch",
    name: "Lamp",
    room: "r",
    ...(simulated ? {} : { binding: { scheme: "zigbee2mqtt" as const, friendlyName: "lamp" } }),
  }]),
  // Above the TLS per-principal rate, so that only the path is measured.
  { env: { LOG_LEVEL: "error", TLS_COMMANDS_PER_SECOND: "100000" } },
);
const sim = await simClient(broker, "sim");
await sim.subscribeAsync("zigbee2mqtt/lamp/set", { qos: 1 });
sim.on("message", (_t, payload) => sim.publish("zigbee2mqtt/lamp", payload.toString()));
const c = await admin(fixture);
const ms: number[] = [];
for (let i = 0; i < count; i++) {
  const started = performance.now();
  const reply = await c.ask(i % 2 ? "lamp off" : "lamp on");
  ms.push(performance.now() - started);
  if (!reply.startsWith("Command")) throw new Error(reply);
}
ms.sort((a, b) => a - b);
const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(2);
// deno-lint-ignore no-console
console.log(
  `${count} ${simulated ? "simulated" : "confirmed"} commands: p50 ${at(0.5)} ms, p95 ${
    at(0.95)
  } ms, max ${at(1)} ms`,
);
await c[Symbol.asyncDispose]();
await sim.endAsync();
await fixture.stop();
