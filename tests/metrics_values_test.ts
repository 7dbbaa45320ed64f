import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { runTool } from "./helpers/ftp_clients.ts";

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return await response.text();
}

/** The value of the first sample of `name` whose labels include every pair of `labels`. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

Deno.test("metrics show device values: a lamp's power and brightness, a sensor's temperature", async () => {
  await using fixture = await startTestHub();
  const http = listenerPort(fixture.hub, "http");
  const source = { principal: "admin", channel: "tls" } as const;
  const before = await scrape(http);
  assert.equal(sample(before, "hub_device_value", { device: "lamp", field: "power" }), 0);
  const set = await fixture.hub.commandPath.run(source, "device.command", {
    device: "lamp",
    action: "brightness",
    args: ["40"],
  });
  assert.ok(set.ok, JSON.stringify(set));
  const reading = await fixture.hub.commandPath.run(
    { principal: "hall-sensor", channel: "udp" },
    "device.reading",
    { device: "hall-sensor", metric: "temperature", value: 21.5 },
  );
  assert.ok(reading.ok, JSON.stringify(reading));
  const after = await scrape(http);
  assert.equal(sample(after, "hub_device_value", { device: "lamp", field: "power" }), 1);
  assert.equal(sample(after, "hub_device_value", { device: "lamp", field: "brightness" }), 40);
  assert.equal(
    sample(after, "hub_device_value", {
      device: "hall-sensor",
      field: "temperature",
      room: "hall",
    }),
    21.5,
  );
});

Deno.test("metrics show the UDP counters at 0 before the first datagram", async () => {
  await using fixture = await startTestHub();
  const text = await scrape(listenerPort(fixture.hub, "http"));
  assert.equal(sample(text, "hub_udp_datagrams_total"), 0);
  assert.equal(sample(text, "hub_udp_accepted_total"), 0);
  assert.equal(sample(text, "hub_udp_replies_total"), 0);
});

Deno.test("metrics count the FTP bytes received and sent", async () => {
  await using fixture = await startTestHub({ env: { FTP_PASV_MIN: "0", FTP_PASV_MAX: "0" } });
  const http = listenerPort(fixture.hub, "http");
  const ftp = listenerPort(fixture.hub, "ftp");
  const start = await scrape(http);
  assert.equal(sample(start, "hub_ftp_bytes_received_total"), 0);
  const file = join(fixture.dir, "up.bin");
  await Deno.writeFile(file, new Uint8Array(123_456).fill(7));
  const url = `ftp://${TEST_SECRETS.ftpUser}:${TEST_SECRETS.ftpPassword}@127.0.0.1:${ftp}/up.bin`;
  const up = await runTool("curl", [
    "-sS",
    "--ssl-reqd",
    "-k",
    "--max-time",
    "30",
    "-T",
    file,
    url,
  ]);
  assert.equal(up.code, 0, up.stderr);
  const down = await runTool("curl", [
    "-sS",
    "--ssl-reqd",
    "-k",
    "--max-time",
    "30",
    "-o",
    join(fixture.dir, "down.bin"),
    url,
  ]);
  assert.equal(down.code, 0, down.stderr);
  const text = await scrape(http);
  assert.equal(sample(text, "hub_ftp_bytes_received_total"), 123_456);
  assert.equal(sample(text, "hub_ftp_bytes_sent_total"), 123_456);
});
