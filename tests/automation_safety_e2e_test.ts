/**
 * Automation safety and operation against a real hub: loop detection, the
 * per-rule rate limit, audit entries with the rule id, delays and
 * notifications, rules disabled and enabled at run time over TLS, and
 * scenes that are partly refused.
 */
import assert from "node:assert/strict";
import {
  auditOf,
  command,
  homeWith,
  report,
  runsOf,
  settle,
  startAutomationHub,
  stateOf,
  TestClock,
  until,
} from "./helpers/automation_fixture.ts";
import { join } from "node:path";
import { TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { openClient, openLoggedIn } from "./helpers/tls_text_client.ts";

const START = Date.parse("2026-06-01T21:00:00Z");
const toggle = (device: string) => ({ kind: "command", device, action: "toggle" });
const cmd = (device: string, action: string, ...args: string[]) => ({
  kind: "command",
  device,
  action,
  args,
});
const rule = (id: string, trigger: unknown, actions: unknown[], extra: object = {}) => ({
  id,
  principal: "automations",
  trigger,
  actions,
  ...extra,
});
const press = (fx: Parameters<typeof report>[0]) => report(fx, "hall-button", "press", "single");

Deno.test("automation - a rule that triggers itself, and two rules in a cycle, are stopped with an audit entry", async () => {
  const clock = new TestClock(START);
  await using fx = await startAutomationHub(
    homeWith([
      rule("self", { kind: "state", device: "porch-light" }, [toggle("porch-light")]),
      rule("ping", { kind: "state", device: "lamp" }, [cmd("garage", "open")]),
      rule("pong", { kind: "state", device: "garage", to: 100 }, [toggle("lamp")]),
    ]),
    clock,
  );
  await command(fx, "porch-light", "on");
  await until("the self loop detected", () => auditOf(fx, "automation.loop_detected").length >= 1);
  await command(fx, "lamp", "on");
  await until("the cycle detected", () => auditOf(fx, "automation.loop_detected").length >= 2);
  await settle(fx);
  const loops = auditOf(fx, "automation.loop_detected");
  assert.equal(loops.length, 2);
  assert.deepEqual(loops[0]!.detail.chain, ["self", "self"]);
  assert.equal(loops[0]!.outcome, "rejected");
  assert.deepEqual(loops[1]!.detail.chain, ["ping", "pong", "ping"]);
  // Each rule ran once, then was stopped: the porch light was toggled back off once.
  assert.equal(runsOf(fx, "self").length, 1);
  assert.equal(runsOf(fx, "ping").length, 1);
  assert.equal(runsOf(fx, "pong").length, 1);
  assert.equal((await stateOf(fx, "porch-light")).power, "off");
  assert.equal((await stateOf(fx, "lamp")).power, "off");
});

Deno.test("automation - a rule over its rate limit is refused, audited once per window", async () => {
  const clock = new TestClock(START);
  await using fx = await startAutomationHub(
    homeWith([
      rule("limited", { kind: "button", device: "hall-button" }, [toggle("porch-light")], {
        rateLimit: { runs: 2, perSeconds: 60 },
      }),
    ]),
    clock,
  );
  for (let i = 0; i < 4; i++) {
    await press(fx);
    await settle(fx);
  }
  assert.equal(runsOf(fx, "limited").length, 2);
  const limited = auditOf(fx, "automation.rate_limited");
  assert.equal(limited.length, 1);
  assert.equal(limited[0]!.detail.rule, "limited");
  clock.advance(61_000);
  await press(fx);
  await until("a third run after the window", () => runsOf(fx, "limited").length === 3);
});

Deno.test("automation - every run is audited with the rule id, the trigger and each action's outcome; commands by the command path", async () => {
  const clock = new TestClock(START);
  await using fx = await startAutomationHub(
    homeWith([
      rule("lamp-pulse", { kind: "button", device: "hall-button" }, [
        cmd("lamp", "brightness", "30"),
        { kind: "delay", seconds: 30 },
        cmd("lamp", "off"),
        { kind: "notify", message: "Lamp pulsed" },
      ]),
    ]),
    clock,
  );
  await using watcher = await openLoggedIn(fx, "admin", TEST_SECRETS.token("admin"));
  assert.match(await watcher.ask("subscribe hall-button"), /^Subscribed to hall-button/);
  await press(fx);
  assert.match(await watcher.readLine() ?? "", /^Event hall-button: press=single/);
  await until("the lamp at 30", async () => (await stateOf(fx, "lamp")).brightness === 30);
  await settle(fx);
  assert.equal((await stateOf(fx, "lamp")).power, "on", "still waiting in the delay");
  clock.advance(30_000);
  await until("the lamp off", async () => (await stateOf(fx, "lamp")).power === "off");
  assert.equal(await watcher.readLine(), "Notify lamp-pulse: Lamp pulsed");
  await until("the run audited", () => auditOf(fx, "automation.run").length === 1);
  const [run] = auditOf(fx, "automation.run");
  assert.equal(run!.principal, "automations");
  assert.equal(run!.channel, "automation");
  assert.equal(run!.outcome, "ok");
  assert.equal(run!.detail.rule, "lamp-pulse");
  assert.equal(run!.detail.trigger, "button hall-button");
  assert.deepEqual(run!.detail.actions, [
    { kind: "command", command: "lamp brightness 30", ok: true },
    { kind: "delay", seconds: 30, ok: true },
    { kind: "command", command: "lamp off", ok: true },
    { kind: "notify", message: "Lamp pulsed", ok: true },
  ]);
  const commands = auditOf(fx, "device.command").filter((e) => e.principal === "automations");
  assert.deepEqual(commands.map((c) => [c.channel, c.detail.command]), [
    ["automation", "lamp brightness 30"],
    ["automation", "lamp off"],
  ]);
  assert.equal(runsOf(fx, "lamp-pulse")[0]!.outcome, "ok");
});

Deno.test("automation - a rule disabled at run time over TLS does not fire until enabled again", async () => {
  const clock = new TestClock(START);
  await using fx = await startAutomationHub(
    homeWith([rule("porch", { kind: "button", device: "hall-button" }, [toggle("porch-light")])]),
    clock,
  );
  await using admin = await openClient(fx);
  assert.ok((await admin.login("admin", TEST_SECRETS.token("admin"))).ok);
  const disabled = await admin.setRule("porch", false);
  assert.ok(disabled.ok && disabled.result.enabled === false, JSON.stringify(disabled));
  await press(fx);
  await settle(fx);
  assert.equal((await stateOf(fx, "porch-light")).power, "off");
  assert.equal(runsOf(fx, "porch").length, 0);

  const listed = await admin.rules();
  assert.ok(listed.ok);
  assert.deepEqual(listed.result.map((r) => [r.id, r.enabled]), [["porch", false]]);
  assert.ok((await admin.setRule("porch", true)).ok);
  await press(fx);
  await until("the porch light on", async () => (await stateOf(fx, "porch-light")).power === "on");
  assert.deepEqual(
    auditOf(fx, "automation.rule_disabled").map((e) => [e.principal, e.detail.rule]),
    [["admin", "porch"]],
  );
  const unknown = await admin.setRule("nope", false);
  assert.ok(!unknown.ok && unknown.error.code === "not_found");
});

Deno.test("automation - a principal may not disable a rule that does what it may not do", async () => {
  const clock = new TestClock(START);
  await using fx = await startAutomationHub(
    homeWith([
      rule("door", { kind: "button", device: "hall-button" }, [cmd("front-door", "unlock")]),
    ]),
    clock,
  );
  await using panel = await openLoggedIn(fx, "kitchen-panel", TEST_SECRETS.token("kitchen-panel"));
  assert.equal(
    await panel.ask("rules disable door"),
    "Error forbidden: kitchen-panel may not disable door: it may not unlock front-door",
  );
  assert.equal(await panel.ask("rules"), "Rules: 1");
  assert.equal(
    await panel.readLine(),
    "  door enabled: button hall-button -> front-door unlock (runs 0, last never)",
  );
});

Deno.test("automation - a scene reports the devices that reached their target and those that refused", async () => {
  const clock = new TestClock(START);
  const evening = {
    id: "evening",
    targets: [
      { device: "lamp", action: "brightness", args: ["30"] },
      { device: "porch-light", action: "on" },
      { device: "front-door", action: "lock" },
    ],
  };
  await using fx = await startAutomationHub(
    homeWith([rule("evening-button", { kind: "button", device: "hall-button" }, [
      { kind: "scene", scene: "evening" },
    ])], [evening]),
    clock,
  );
  await command(fx, "front-door", "unlock");
  // The kitchen panel may use the lamp and the porch light, not the front door.
  await using panel = await openLoggedIn(fx, "kitchen-panel", TEST_SECRETS.token("kitchen-panel"));
  assert.equal(
    await panel.ask("scene evening"),
    "Scene evening: reached lamp, porch-light; refused front-door (forbidden: kitchen-panel may not use 'lock' on front-door (no grant))",
  );
  assert.equal((await stateOf(fx, "lamp")).brightness, 30);
  assert.equal((await stateOf(fx, "front-door")).locked, false);
  const [audited] = auditOf(fx, "automation.scene");
  assert.equal(audited!.outcome, "rejected");
  assert.deepEqual(audited!.detail.reached, ["lamp", "porch-light"]);
  assert.match(await panel.ask("scene nope"), /^Error not_found: No scene named 'nope'/);

  // The rule's principal may do all three: every target reached.
  await press(fx);
  await until("the door locked", async () => (await stateOf(fx, "front-door")).locked === true);
  await until("the run audited", () => auditOf(fx, "automation.run").length === 1);
  const [run] = auditOf(fx, "automation.run");
  assert.deepEqual(run!.detail.actions, [{
    kind: "scene",
    scene: "evening",
    ok: true,
    reached: ["lamp", "porch-light", "front-door"],
    refused: [],
  }]);
});

Deno.test("automation - a rule whose principal lost a grant (SIGHUP reload) runs with that target refused: outcome partial", async () => {
  const clock = new TestClock(START);
  const scene = {
    id: "leave",
    targets: [
      { device: "porch-light", action: "off" },
      { device: "front-door", action: "lock" },
    ],
  };
  const home = homeWith([rule("leave-button", { kind: "button", device: "hall-button" }, [
    { kind: "scene", scene: "leave" },
    { kind: "notify", message: "Bye" },
  ])], [scene]);
  await using fx = await startAutomationHub(home, clock);
  await command(fx, "front-door", "unlock");
  await command(fx, "porch-light", "on");
  // The new file: the automation principal may no longer lock the door (and no rule needs it).
  const edited = structuredClone(home) as unknown as {
    principals: { id: string; grants: unknown[] }[];
    rules: unknown[];
  };
  edited.principals.find((p) => p.id === "automations")!.grants = [
    { devices: ["hall-button"], actions: ["status"] },
    { devices: ["porch-light"], actions: ["*"] },
  ];
  edited.rules = [];
  await Deno.writeTextFile(join(fx.dir, "home.json"), JSON.stringify(edited));
  const reloaded = await fx.hub.reload();
  assert.ok(reloaded.ok, JSON.stringify(reloaded));

  await press(fx);
  await until("the run audited", () => auditOf(fx, "automation.run").length === 1);
  const [run] = auditOf(fx, "automation.run");
  assert.equal(run!.outcome, "rejected");
  assert.equal(run!.detail.run, "partial");
  const [sceneOutcome] = run!.detail.actions as {
    reached: string[];
    refused: { device: string; code: string }[];
  }[];
  assert.deepEqual(sceneOutcome!.reached, ["porch-light"]);
  assert.deepEqual(sceneOutcome!.refused.map((r) => [r.device, r.code]), [[
    "front-door",
    "forbidden",
  ]]);
  assert.equal((await stateOf(fx, "front-door")).locked, false);
  assert.equal((await stateOf(fx, "porch-light")).power, "off");
  assert.equal(runsOf(fx, "leave-button")[0]!.outcome, "partial");
});

Deno.test("automation - a JSON client subscribed to a device receives rule notifications as events", async () => {
  const clock = new TestClock(START);
  await using fx = await startAutomationHub(
    homeWith([rule("hello", { kind: "button", device: "hall-button" }, [
      { kind: "notify", message: "Someone pressed the hall button" },
    ])]),
    clock,
  );
  await using client = await openClient(fx);
  assert.ok((await client.login("kitchen-panel", TEST_SECRETS.token("kitchen-panel"))).ok);
  const notes: { rule: string; message: string }[] = [];
  client.onNotification((n) => notes.push({ rule: n.rule, message: n.message }));
  assert.ok((await client.subscribe("lamp")).ok);
  await press(fx);
  await until("the notification", () => notes.length === 1);
  assert.deepEqual(notes, [{ rule: "hello", message: "Someone pressed the hall button" }]);
});
