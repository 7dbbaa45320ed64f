/**
 * Rules and scenes are validated when the home file loads: each problem
 * names the rule (or scene) and the field, and the hub does not start.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig, parseHome } from "../config/config.ts";
import { parseSettings } from "../config/settings.ts";
import type { Home } from "../config/home.ts";
import demoHome from "../config/demo_home.json" with { type: "json" };
import { startTestHub } from "./helpers/hub_fixture.ts";

/** The demo home with `rules` and `scenes` replaced. */
function withRules(rules: unknown[], scenes: unknown[] = []): unknown {
  return { ...structuredClone(demoHome), rules, scenes };
}

const button = { kind: "button", device: "hall-button" };

/** The error text of a home that must not load. */
function problems(home: unknown): string {
  const parsed = parseHome(home, "home.json");
  assert.ok(!parsed.ok, "the home should be refused");
  return parsed.error.message;
}

Deno.test("rules - the demo home's rules load", () => {
  const parsed = parseHome(structuredClone(demoHome), "demo");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
  assert.deepEqual(parsed.value.rules.map((r) => r.id), [
    "hall-button-porch-light",
    "hall-too-warm",
  ]);
});

Deno.test("rules - a rule whose principal lacks the grant is refused at load, naming the rule and the field", () => {
  const text = problems(withRules([{
    id: "unlock-at-night",
    principal: "automations",
    trigger: { kind: "time", at: "23:00" },
    actions: [{ kind: "command", device: "front-door", action: "unlock" }],
  }]));
  assert.equal(
    text,
    "home.json: rules.0.actions.0.action: rule unlock-at-night: principal automations may not unlock front-door (add a grant)",
  );
});

Deno.test("rules - unknown devices, actions the type lacks, bad values, unknown scenes and wrong trigger devices are named", () => {
  const text = problems(withRules([
    {
      id: "a",
      principal: "automations",
      trigger: button,
      actions: [{ kind: "command", device: "attic", action: "on" }],
    },
    {
      id: "b",
      principal: "automations",
      trigger: button,
      actions: [{ kind: "command", device: "porch-light", action: "brightness", args: [40] }],
    },
    {
      id: "c",
      principal: "automations",
      trigger: button,
      actions: [{ kind: "command", device: "thermostat", action: "set", args: ["99"] }],
    },
    {
      id: "d",
      principal: "automations",
      trigger: button,
      actions: [{ kind: "scene", scene: "party" }],
    },
    {
      id: "e",
      principal: "automations",
      trigger: { kind: "button", device: "porch-light" },
      actions: [{ kind: "notify", message: "x" }],
    },
    { id: "f", principal: "admin", trigger: button, actions: [{ kind: "notify", message: "x" }] },
    {
      id: "g",
      principal: "automations",
      trigger: { kind: "state", device: "thermostat", attribute: "colour" },
      actions: [{ kind: "notify", message: "x" }],
    },
    {
      id: "h",
      principal: "automations",
      trigger: button,
      conditions: [{ kind: "state", device: "lamp", is: "on" }],
      actions: [{ kind: "notify", message: "x" }],
    },
  ]));
  assert.deepEqual(text.split("\n"), [
    "home.json: rules.0.actions.0.device: rule a: unknown device attic",
    "home.json: rules.1.actions.0.action: rule b: porch-light (switch) has no action 'brightness': it accepts on, off, toggle",
    "home.json: rules.2.actions.0.args: rule c: thermostat target must be 5-30, got 99",
    "home.json: rules.3.actions.0.scene: rule d: unknown scene party",
    "home.json: rules.4.trigger.device: rule e: a button trigger needs a sensor, porch-light is a switch",
    'home.json: rules.5.principal: rule f: admin is a controller; rules act as a principal of kind "automation"',
    "home.json: rules.6.trigger.attribute: rule g: thermostat has no state 'colour': it has target, mode",
    'home.json: rules.7.conditions.0.device: rule h: principal automations has no grant on lamp (add one, e.g. action "status")',
  ]);
});

Deno.test("rules - a scene target the rule's principal may not do is refused; scene targets are checked against device types", () => {
  const text = problems(withRules(
    [{
      id: "evening",
      principal: "automations",
      trigger: button,
      actions: [{ kind: "scene", scene: "evening" }],
    }],
    [
      { id: "evening", targets: [{ device: "front-door", action: "lock" }] },
      { id: "broken", targets: [{ device: "garage", action: "toggle" }] },
    ],
  ));
  assert.deepEqual(text.split("\n"), [
    "home.json: scenes.1.targets.0.action: scene broken: garage (cover) has no action 'toggle': it accepts open, close, position",
    "home.json: rules.0.actions.0.scene: rule evening: scene evening: principal automations may not lock front-door (add a grant)",
  ]);
});

Deno.test("rules - schema problems name the field: a bad time, an unknown trigger kind, no actions", () => {
  const text = problems(withRules([
    {
      id: "t",
      principal: "automations",
      trigger: { kind: "time", at: "25:00" },
      actions: [{ kind: "notify", message: "x" }],
    },
    {
      id: "u",
      principal: "automations",
      trigger: { kind: "sunrise" },
      actions: [{ kind: "notify", message: "x" }],
    },
    { id: "v", principal: "automations", trigger: button, actions: [] },
  ]));
  assert.match(text, /^home\.json: rules\.0\.trigger\.at: must be a 24-hour time HH:MM/m);
  assert.match(text, /^home\.json: rules\.1\.trigger\.kind: /m);
  assert.match(text, /^home\.json: rules\.2\.actions: /m);
});

Deno.test("rules - the hub does not start with an invalid rule, and says which", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rules_config_" });
  try {
    const home = withRules([{
      id: "bad",
      principal: "automations",
      trigger: button,
      actions: [{ kind: "command", device: "front-door", action: "unlock" }],
    }]);
    await Deno.writeTextFile(join(dir, "home.json"), JSON.stringify(home));
    const loaded = loadConfig({ HOME_CONFIG: "home.json", DATA_DIR: join(dir, "data") }, dir);
    assert.ok(!loaded.ok);
    assert.match(
      loaded.error.message,
      /rules\.0\.actions\.0\.action: rule bad: principal automations may not unlock front-door/,
    );
    await assert.rejects(() => startTestHub({ home: home as Home, dir }), /rule bad/);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("settings - TZ must be a known zone; the grace window is a whole number of seconds", () => {
  const bad = parseSettings({ TZ: "Mars/Olympus", AUTOMATION_GRACE_SECONDS: "soon" });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.error.lines, [
    'TZ="Mars/Olympus": must be an IANA time zone such as Europe/Paris or UTC',
    'AUTOMATION_GRACE_SECONDS="soon": Invalid input: expected number, received NaN',
  ]);
  const good = parseSettings({ TZ: "Europe/Paris" });
  assert.ok(good.ok);
  assert.equal(good.value.TZ, "Europe/Paris");
  assert.equal(good.value.AUTOMATION_GRACE_SECONDS, 300);
});
