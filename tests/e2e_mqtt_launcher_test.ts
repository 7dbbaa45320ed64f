/**
 * `deno task start` with a bound device and MQTT_URL (over TLS, with a
 * password): the launcher's narrowed permissions (network: the broker's host
 * and port) are enough to connect and stop with exit 0, and the broker
 * password never reaches the log.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { isolatedEnv, REPO_ROOT } from "./helpers/hub_fixture.ts";
import { freePort, startMosquitto } from "./helpers/mosquitto.ts";
import { boundHome, BROKER_USER, until } from "./helpers/mqtt_harness.ts";
import { permissionFlags } from "../config/permissions.ts";
import { loadConfig } from "../config/config.ts";

Deno.test("launcher - a hub with MQTT_URL gets network access to the broker only, connects over TLS and stops cleanly", async () => {
  await using broker = await startMosquitto({ tls: true, user: BROKER_USER });
  const dir = await Deno.makeTempDir({ prefix: "mqtt_launch_" });
  const home = join(dir, "home.json");
  await Deno.writeTextFile(
    home,
    JSON.stringify(boundHome([{
      id: "plug",
      type: "switch",
      name: "Plug",
      room: "hall",
      binding: { scheme: "tasmota", topic: "launch_plug" },
    }])),
  );
  const env: Record<string, string> = {
    ...isolatedEnv(dir),
    TCP_SERVER_PORT: String(freePort()),
    UDP_SERVER_PORT: String(freePort()),
    FTP_PORT: String(freePort()),
    HTTP_PORT: String(freePort()),
    HOME_CONFIG: home,
    MQTT_URL: broker.url,
    MQTT_CA: broker.caPath!,
    MQTT_USERNAME: BROKER_USER.name,
    MQTT_PASSWORD: BROKER_USER.password,
    NO_COLOR: "1",
  };
  const config = loadConfig(env, dir);
  assert.ok(config.ok);
  const net = permissionFlags(config.value).find((f) => f.startsWith("--allow-net="));
  const hosts = (net ?? "").slice("--allow-net=".length).split(",");
  assert.ok(hosts.includes(`127.0.0.1:${broker.port}`), net);

  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: REPO_ROOT,
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
  })();
  let exited = false;
  child.status.then(() => (exited = true));
  try {
    await until(
      "the hub's bridge to connect",
      () => exited || /MQTT bridge connected/.test(log),
      30_000,
    );
    assert.ok(!exited, `The hub exited:\n${log}`);
  } finally {
    if (!exited) child.kill("SIGTERM");
  }
  const status = await child.status;
  await reading;
  await Deno.remove(dir, { recursive: true });
  assert.equal(status.code, 0, log);
  assert.ok(!log.includes(BROKER_USER.password), "the broker password was logged");
  assert.match(log, /Hub stopped/);
});
