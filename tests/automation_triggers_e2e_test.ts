/**
 * Every trigger and condition kind, end to end: a real hub (real database
 * file, real command path), a clock the test moves, and rules whose actions
 * are observed on the devices and in the database.
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
import { listenerPort, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { loginSteps, runFtpClient } from "./helpers/ftp_clients.ts";

/** Monday 1 June 2026, 23:00 in Paris (UTC+2). */
const MONDAY_23H_PARIS = Date.parse("2026-06-01T21:00:00Z");

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

Deno.test("automation - a state trigger fires on to/from and when a threshold is crossed, not while above it", async () => {
  const clock = new TestClock(MONDAY_23H_PARIS);
  await using fx = await startAutomationHub(
    homeWith([
      rule("door-unlocked", { kind: "state", device: "front-door", from: true, to: false }, [
        cmd("porch-light", "on"),
      ]),
      rule("hall-hot", { kind: "state", device: "hall-sensor", above: 25 }, [
        cmd("thermostat", "set", "18"),
      ]),
    ]),
    clock,
  );
  await command(fx, "front-door", "lock"); // already locked: no change of value
  await report(fx, "hall-sensor", "temperature", 20);
  await settle(fx);
  assert.equal(runsOf(fx, "door-unlocked").length, 0);
  assert.equal(runsOf(fx, "hall-hot").length, 0);

  await command(fx, "front-door", "unlock");
  await until("the porch light on", async () => (await stateOf(fx, "porch-light")).power === "on");
  await report(fx, "hall-sensor", "temperature", 26);
  await until("thermostat at 18", async () => (await stateOf(fx, "thermostat")).target === 18);
  await until("the run recorded", () => runsOf(fx, "hall-hot")[0]?.outcome === "ok");

  await command(fx, "thermostat", "set", "21");
  await report(fx, "hall-sensor", "temperature", 27); // still above: not a crossing
  await settle(fx);
  assert.equal((await stateOf(fx, "thermostat")).target, 21);
  assert.equal(runsOf(fx, "hall-hot").length, 1);

  await report(fx, "hall-sensor", "temperature", 22);
  await report(fx, "hall-sensor", "temperature", 25.5); // crossed again
  await until("a second run", () => runsOf(fx, "hall-hot").length === 2);
  await until(
    "thermostat at 18 again",
    async () => (await stateOf(fx, "thermostat")).target === 18,
  );
  assert.equal(runsOf(fx, "door-unlocked").length, 1);
});

Deno.test("automation - a held-for trigger fires once the value held long enough, and a change cancels it", async () => {
  const clock = new TestClock(MONDAY_23H_PARIS);
  await using fx = await startAutomationHub(
    homeWith([
      rule("garage-left-open", {
        kind: "state",
        device: "garage",
        to: 100,
        forSeconds: 600,
      }, [cmd("lamp", "on")]),
    ]),
    clock,
  );
  await command(fx, "garage", "open");
  await settle(fx);
  clock.advance(300_000);
  await settle(fx);
  await command(fx, "garage", "close"); // cancels the hold
  clock.advance(400_000);
  await settle(fx);
  assert.equal(runsOf(fx, "garage-left-open").length, 0);
  assert.equal((await stateOf(fx, "lamp")).power, "off");

  await command(fx, "garage", "open");
  await settle(fx);
  clock.advance(599_000);
  await settle(fx);
  assert.equal(runsOf(fx, "garage-left-open").length, 0);
  clock.advance(2_000);
  await until("the lamp on", async () => (await stateOf(fx, "lamp")).power === "on");
  clock.advance(3_600_000);
  await settle(fx);
  assert.equal(runsOf(fx, "garage-left-open").length, 1, "fires once per hold");
});

Deno.test("automation - sensor reports (with a bound) and button presses (any, or one value) trigger rules", async () => {
  const clock = new TestClock(MONDAY_23H_PARIS);
  await using fx = await startAutomationHub(
    homeWith([
      rule("cold-report", { kind: "sensor", device: "hall-sensor", below: 10 }, [
        cmd("thermostat", "mode", "heat"),
      ]),
      rule("any-press", { kind: "button", device: "hall-button" }, [toggle("porch-light")]),
      rule("double-press", { kind: "button", device: "hall-button", value: "double" }, [
        cmd("garage", "open"),
      ]),
    ]),
    clock,
  );
  await command(fx, "thermostat", "mode", "off");
  await report(fx, "hall-sensor", "temperature", 15);
  await report(fx, "hall-button", "press", "single");
  await until("the porch light on", async () => (await stateOf(fx, "porch-light")).power === "on");
  await settle(fx);
  assert.equal(runsOf(fx, "cold-report").length, 0);
  assert.equal(runsOf(fx, "double-press").length, 0);

  await report(fx, "hall-sensor", "temperature", 8);
  await report(fx, "hall-sensor", "temperature", 8); // every report below fires, unchanged or not
  await report(fx, "hall-button", "press", "double");
  await until("the garage open", async () => (await stateOf(fx, "garage")).position === 100);
  await until("two cold runs", () => runsOf(fx, "cold-report").length === 2);
  await until(
    "porch light off again",
    async () => (await stateOf(fx, "porch-light")).power === "off",
  );
  assert.equal((await stateOf(fx, "thermostat")).mode, "heat");
  assert.equal(runsOf(fx, "any-press").length, 2);
});

Deno.test("automation - a camera snapshot stored over FTP triggers a rule", async () => {
  const clock = new TestClock(MONDAY_23H_PARIS);
  await using fx = await startAutomationHub(
    homeWith([rule("motion-light", { kind: "snapshot", device: "porch-camera" }, [
      cmd("porch-light", "on"),
    ])]),
    clock,
    { env: { FTP_REQUIRE_TLS: "false", FTP_PASV_MIN: "0", FTP_PASV_MAX: "0" } },
  );
  const r = await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...loginSteps("porch-camera", TEST_SECRETS.password("porch-camera")),
    { op: "stor", path: "snap.jpg", size: 2_000, seed: 3 },
  ]);
  assert.equal(r[2]!.code, 226, JSON.stringify(r));
  await until("the porch light on", async () => (await stateOf(fx, "porch-light")).power === "on");
  const [run] = auditOf(fx, "automation.run");
  assert.equal(run!.detail.trigger, "snapshot porch-camera");
  // The same file name again (a camera that overwrites its snapshot) fires again.
  await command(fx, "porch-light", "off");
  const again = await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...loginSteps("porch-camera", TEST_SECRETS.password("porch-camera")),
    { op: "stor", path: "snap.jpg", size: 3_000, seed: 4 },
  ]);
  assert.equal(again[2]!.code, 226, JSON.stringify(again));
  await until(
    "the porch light on again",
    async () => (await stateOf(fx, "porch-light")).power === "on",
  );
  assert.equal(runsOf(fx, "motion-light").length, 2);
});

Deno.test("automation - a time-of-day trigger fires once at its time in the hub's zone; an interval fires every period", async () => {
  const clock = new TestClock(MONDAY_23H_PARIS);
  await using fx = await startAutomationHub(
    homeWith([
      rule("night", { kind: "time", at: "23:30" }, [toggle("porch-light")]),
      rule("every-minute", { kind: "interval", everySeconds: 60 }, [cmd("lamp", "on")]),
    ]),
    clock,
  );
  clock.set(Date.parse("2026-06-01T21:29:59Z")); // 23:29:59 in Paris
  await settle(fx);
  assert.equal(runsOf(fx, "night").length, 0);
  assert.equal(runsOf(fx, "every-minute").length, 0);

  clock.set(Date.parse("2026-06-01T21:30:00Z"));
  await until("the porch light on", async () => (await stateOf(fx, "porch-light")).power === "on");
  await until("one interval run", () => runsOf(fx, "every-minute").length === 1);
  clock.advance(30_000);
  await settle(fx);
  assert.equal(runsOf(fx, "night").length, 1, "fires once");
  assert.equal(runsOf(fx, "night")[0]!.due_at, Date.parse("2026-06-01T21:30:00Z"));
  assert.equal(runsOf(fx, "every-minute").length, 1);
  clock.advance(30_000);
  await until("a second interval run", () => runsOf(fx, "every-minute").length === 2);
  // The next day at 23:30 Paris time it fires again.
  clock.set(Date.parse("2026-06-02T21:30:05Z"));
  await until("a second night run", () => runsOf(fx, "night").length === 2);
});

Deno.test("automation - conditions: another device's state, a time window across midnight, a day of the week", async () => {
  const clock = new TestClock(MONDAY_23H_PARIS);
  await using fx = await startAutomationHub(
    homeWith([rule("night-button", { kind: "button", device: "hall-button" }, [toggle("lamp")], {
      conditions: [
        { kind: "state", device: "front-door", is: true },
        { kind: "time", after: "22:00", before: "06:00" },
        { kind: "weekday", days: ["mon", "sat", "sun"] },
      ],
    })]),
    clock,
  );
  const press = async () => {
    await report(fx, "hall-button", "press", "single");
    await settle(fx);
  };
  await press(); // Monday 23:00, door locked: runs
  await until("one run", () => runsOf(fx, "night-button").length === 1);

  await command(fx, "front-door", "unlock");
  await press(); // door unlocked
  assert.equal(runsOf(fx, "night-button").length, 1);
  await command(fx, "front-door", "lock");

  clock.set(Date.parse("2026-06-01T10:00:00Z")); // Monday 12:00 Paris: outside the window
  await press();
  assert.equal(runsOf(fx, "night-button").length, 1);

  clock.set(Date.parse("2026-06-02T21:00:00Z")); // Tuesday 23:00 Paris: not a listed day
  await press();
  assert.equal(runsOf(fx, "night-button").length, 1);

  clock.set(Date.parse("2026-06-07T02:30:00Z")); // Sunday 04:30 Paris: in the wrapped window
  await press();
  await until("a second run", () => runsOf(fx, "night-button").length === 2);
  assert.equal((await stateOf(fx, "lamp")).power, "off", "toggled twice");
});
