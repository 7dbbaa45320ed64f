/**
 * `deno task cli rules`: lists the demo home's rules from a running hub and
 * disables/enables one in it without a restart.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, REPO_ROOT, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { report, runsOf, settle, stateOf, until } from "./helpers/automation_fixture.ts";

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

Deno.test("cli rules - lists the demo rules, and a rule disabled from the CLI stops firing in the running hub", async () => {
  await using fx = await startTestHub({ hub: { automationTickMs: 20 } });
  const common = [
    "--port",
    String(listenerPort(fx.hub, "tls")),
    "--ca",
    fx.env.SSL_CERT!,
    "--token",
    TEST_SECRETS.token("admin"),
  ];
  const list = await cli(["rules", "list", ...common]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.stdout.trimEnd().split("\n"), [
    "Rules: 2",
    "  hall-button-porch-light enabled: button hall-button -> porch-light toggle (runs 0, last never)",
    '  hall-too-warm enabled: state hall-sensor above 26 -> thermostat set 19; notify "The hall is above 26 °C: thermostat set to 19 °C" (runs 0, last never)',
  ]);

  // The demo rule works: the hall button (a signed UDP datagram) toggles the porch light.
  const pressed = await cli([
    "udp",
    "--port",
    String(listenerPort(fx.hub, "udp")),
    "--principal",
    "hall-button",
    "--key",
    TEST_SECRETS.udpKeyHex("hall-button"),
    "--report",
    "hall-button",
    "press",
    "single",
  ]);
  assert.equal(pressed.code, 0, pressed.stderr);
  await until("the porch light on", async () => (await stateOf(fx, "porch-light")).power === "on");

  const off = await cli(["rules", "disable", "hall-button-porch-light", ...common]);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(off.stdout.trim(), "Rule hall-button-porch-light disabled");
  await report(fx, "hall-button", "press", "single");
  await settle(fx);
  assert.equal((await stateOf(fx, "porch-light")).power, "on", "disabled: no toggle");

  const on = await cli(["rules", "enable", "hall-button-porch-light", "--json", ...common]);
  assert.equal(on.code, 0, on.stderr);
  assert.equal(JSON.parse(on.stdout).result.enabled, true);
  await report(fx, "hall-button", "press", "single");
  await until(
    "the porch light off",
    async () => (await stateOf(fx, "porch-light")).power === "off",
  );
  assert.equal(runsOf(fx, "hall-button-porch-light").length, 2);

  // The other demo rule: a hall above 26 °C sets the thermostat to 19 °C.
  await report(fx, "hall-sensor", "temperature", 27.5);
  await until("the thermostat at 19", async () => (await stateOf(fx, "thermostat")).target === 19);

  await until(
    "both porch runs finished",
    () => runsOf(fx, "hall-button-porch-light").every((r) => r.outcome === "ok"),
  );
  const metrics = await fetch(`http://127.0.0.1:${listenerPort(fx.hub, "http")}/metrics`);
  assert.match(
    await metrics.text(),
    /^hub_automation_runs_recorded\{rule="hall-button-porch-light",outcome="ok"\} 2$/m,
  );

  const unknown = await cli(["rules", "disable", "nope", ...common]);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr.trim(), "Error not_found: No rule named 'nope'");
  const usage = await cli(["rules", "enable", ...common]);
  assert.equal(usage.code, 2);
});
