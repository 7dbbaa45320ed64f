import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, REPO_ROOT, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(REPO_ROOT, "client", "cli.ts"), ...args],
    env,
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

Deno.test("cli device - sends a command, lists and reports errors, in human and JSON form", async () => {
  await using hub = await startTestHub();
  const common = [
    "--port",
    String(listenerPort(hub.hub, "tls")),
    "--ca",
    hub.env.SSL_CERT!,
  ];
  const env = { HUB_TOKEN: TEST_SECRETS.token("admin") };
  const sent = await cli(["device", "send", "lamp", "brightness", "40", "--json", ...common], env);
  assert.equal(sent.code, 0, sent.stderr);
  const reply = JSON.parse(sent.stdout);
  assert.deepEqual(reply.result.state, { power: "on", brightness: 40 });
  const list = await cli(["device", "list", ...common], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^lamp\s+light\s+living room\s+power=on brightness=40$/m);
  assert.equal(list.stdout.trim().split("\n").length, 8);
  const bad = await cli(["device", "send", "thermostat", "set", "99", ...common], env);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim(), "Error out_of_range: thermostat target must be 5-30, got 99");
  const wrong = await cli(["device", "list", ...common], { HUB_TOKEN: "nope" });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /Error unauthenticated/);
  // A token of another principal: the error says which principal was tried and how to change it.
  const other = await cli(["device", "list", ...common], {
    HUB_TOKEN: TEST_SECRETS.token("kitchen-panel"),
  });
  assert.equal(other.code, 1);
  assert.match(other.stderr, /logged in as admin, from the default; set HUB_PRINCIPAL/);
  const asPanel = await cli(["device", "list", ...common], {
    HUB_PRINCIPAL: "kitchen-panel",
    HUB_TOKEN: TEST_SECRETS.token("kitchen-panel"),
  });
  assert.equal(asPanel.code, 0, asPanel.stderr);
  assert.match(asPanel.stdout, /^lamp\s/m);
});
