/**
 * How long a rule takes from trigger to effect: a button press reported
 * through the command path (what the UDP channel does) until the change
 * the rule's command causes (`device.state_changed` of the porch light,
 * published once recorded). One press at a time, on a real hub with a
 * real database in a temporary folder.
 *
 * Usage: `deno run --allow-read --allow-write --allow-net=127.0.0.1 --allow-env --allow-sys
 * bench/automation_latency.ts [presses]`
 *
 * @module
 */
import { join } from "node:path";
import { loadConfig } from "../config/config.ts";
import { startHub } from "../hub.ts";
import demoHome from "../config/demo_home.json" with { type: "json" };
import { LatencyRecorder } from "./latency.ts";

const presses = Number(Deno.args[0] ?? "500");
const dir = await Deno.makeTempDir({ prefix: "automation_bench_" });
const home = structuredClone(demoHome) as { rules: { rateLimit?: unknown }[] };
for (const rule of home.rules) rule.rateLimit = { runs: 10_000, perSeconds: 1 };
await Deno.writeTextFile(join(dir, "home.json"), JSON.stringify(home));
const loaded = loadConfig({
  HOME_CONFIG: "home.json",
  DATA_DIR: "data",
  UPLOAD_FOLDER: "uploads",
  SSL_CERT: "certs/server.crt",
  SSL_KEY: "certs/server.key",
  TCP_SERVER_PORT: "0",
  UDP_SERVER_PORT: "0",
  FTP_PORT: "0",
  HTTP_PORT: "0",
  FTP_PASSWORD: "bench-only",
  LOG_LEVEL: "error",
}, dir);
if (!loaded.ok) throw loaded.error;
const hub = await startHub(loaded.value);
const latency = new LatencyRecorder();
let waiting: (() => void) | undefined;
const stop = hub.broker.subscribe(["device.state_changed"], (message) => {
  if (message.payload.device === "porch-light") waiting?.();
});
const started = performance.now();
for (let i = 0; i < presses; i++) {
  const changed = new Promise<void>((resolve) => (waiting = resolve));
  const t0 = performance.now();
  const reported = await hub.commandPath.run(
    { principal: "hall-button", channel: "udp" },
    "device.reading",
    { device: "hall-button", metric: "press", value: "single" },
  );
  if (!reported.ok) throw new Error(reported.error.message);
  await changed;
  latency.record(performance.now() - t0);
}
const seconds = (performance.now() - started) / 1000;
stop();
await hub.stop();
await Deno.remove(dir, { recursive: true });
const fmt = (ms: number) => ms.toFixed(2);
const line = `${presses} presses: p50 ${fmt(latency.quantile(0.5))} ms, p99 ${
  fmt(latency.quantile(0.99))
} ms, ${(presses / seconds).toFixed(0)} presses/s (press reported -> rule's change recorded)`;
Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
