/**
 * The pure parts of automations: wall-clock time in a zone (with daylight
 * saving), what a scheduled trigger owes at start, change verdicts, time
 * windows, loop detection and the per-rule rate limit.
 */
import assert from "node:assert/strict";
import { lastOccurrence, localTime, nextOccurrence } from "../domain/automation/local_time.ts";
import { evaluateChange, scheduleAtStart } from "../domain/automation/triggers.ts";
import { inWindow } from "../domain/automation/conditions.ts";
import { loopProblem, MAX_CHAIN, RuleRateLimit } from "../domain/automation/safety.ts";
import type { DeviceDeclaration } from "../config/home.ts";

const at = (iso: string) => Date.parse(iso);

Deno.test("local time - occurrences of a time of day follow the zone, across a daylight-saving change", () => {
  assert.equal(localTime(at("2026-06-01T21:30:00Z"), "Europe/Paris").hour, 23);
  assert.equal(localTime(at("2026-06-01T21:30:00Z"), "Europe/Paris").weekday, "mon");
  // 29 March 2026: Paris goes from UTC+1 to UTC+2 at 02:00 local time.
  assert.equal(
    nextOccurrence("07:00", "Europe/Paris", at("2026-03-28T12:00:00Z")),
    at("2026-03-29T05:00:00Z"),
  );
  assert.equal(
    nextOccurrence("07:00", "Europe/Paris", at("2026-03-28T05:00:00Z")),
    at("2026-03-28T06:00:00Z"),
  );
  // A time skipped by the jump forward happens an hour later; one repeated by the jump back once.
  assert.equal(
    nextOccurrence("02:30", "Europe/Paris", at("2026-03-28T12:00:00Z")),
    at("2026-03-29T01:30:00Z"),
  );
  assert.equal(
    nextOccurrence("02:30", "Europe/Paris", at("2026-10-24T12:00:00Z")),
    at("2026-10-25T01:30:00Z"),
  );
  assert.equal(
    nextOccurrence("02:30", "Europe/Paris", at("2026-10-25T01:30:00Z")),
    at("2026-10-26T01:30:00Z"),
  );
  assert.equal(
    lastOccurrence("22:30", "America/New_York", at("2026-12-02T03:00:00Z")),
    at("2026-12-02T03:30:00Z") - 86_400_000,
  );
  assert.equal(
    lastOccurrence("00:00", "UTC", at("2026-12-01T00:00:00Z")),
    at("2026-12-01T00:00:00Z"),
  );
});

Deno.test("schedule at start - a missed time fires once within grace; a new trigger owes nothing", () => {
  const trigger = { kind: "time", at: "23:30" } as const;
  const ctx = (now: string) => ({ nowMs: at(now), timeZone: "UTC", graceMs: 300_000 });
  const due = at("2026-12-01T23:30:00Z");
  const before = at("2026-11-30T23:30:00Z");
  assert.deepEqual(scheduleAtStart(trigger, before, ctx("2026-12-01T23:32:00Z")).catchUp, due);
  assert.equal(scheduleAtStart(trigger, before, ctx("2026-12-01T23:40:00Z")).catchUp, null);
  assert.equal(scheduleAtStart(trigger, due, ctx("2026-12-01T23:32:00Z")).catchUp, null);
  assert.equal(scheduleAtStart(trigger, undefined, ctx("2026-12-01T23:32:00Z")).catchUp, null);
  assert.equal(scheduleAtStart(trigger, before, ctx("2026-12-01T23:20:00Z")).catchUp, null);
  const interval = { kind: "interval", everySeconds: 60 } as const;
  const last = at("2026-12-01T10:00:00Z");
  const late = scheduleAtStart(interval, last, ctx("2026-12-01T10:02:30Z"));
  assert.deepEqual(late, {
    catchUp: last + 120_000,
    consumed: last + 120_000,
    next: last + 180_000,
  });
});

Deno.test("change verdicts - from/to, below crossings and leaving a held value", () => {
  const cover: DeviceDeclaration = { id: "garage", type: "cover", name: "G", room: "g" };
  const sensor: DeviceDeclaration = {
    id: "t",
    type: "sensor",
    name: "T",
    room: "r",
    metric: "temperature",
  };
  const change = (device: DeviceDeclaration, from: number, to: number, key: string) => ({
    device,
    previous: { [key]: from },
    state: { [key]: to },
  });
  const opened = { kind: "state", device: "garage", from: 0, to: 100 } as const;
  assert.equal(evaluateChange(opened, change(cover, 0, 100, "position")), "enter");
  assert.equal(evaluateChange(opened, change(cover, 50, 100, "position")), "none");
  assert.equal(evaluateChange(opened, change(cover, 100, 40, "position")), "leave");
  const cold = { kind: "state", device: "t", below: 10 } as const;
  assert.equal(evaluateChange(cold, change(sensor, 12, 9, "temperature")), "enter");
  assert.equal(evaluateChange(cold, change(sensor, 9, 8, "temperature")), "none");
  assert.equal(evaluateChange(cold, change(sensor, 8, 11, "temperature")), "leave");
  assert.equal(
    evaluateChange({ kind: "time", at: "10:00" }, change(sensor, 1, 2, "temperature")),
    "none",
  );
});

Deno.test("time windows - plain and wrapping past midnight", () => {
  assert.ok(inWindow(600, 540, 1020));
  assert.ok(!inWindow(1020, 540, 1020));
  assert.ok(inWindow(1380, 1320, 360));
  assert.ok(inWindow(30, 1320, 360));
  assert.ok(!inWindow(720, 1320, 360));
});

Deno.test("safety - a rule already in the chain is a loop; long chains stop; the rate limit slides", () => {
  assert.deepEqual(loopProblem(["a", "b"], "a"), { kind: "loop", chain: ["a", "b", "a"] });
  assert.equal(loopProblem(["a", "b"], "c"), undefined);
  const long = Array.from({ length: MAX_CHAIN }, (_, i) => `r${i}`);
  assert.equal(loopProblem(long, "z")?.kind, "too_deep");
  const limit = new RuleRateLimit();
  const rate = { runs: 2, perSeconds: 10 };
  assert.ok(limit.take("a", rate, 0));
  assert.ok(limit.take("a", rate, 1000));
  assert.ok(!limit.take("a", rate, 5000));
  assert.ok(limit.take("b", rate, 5000), "per rule");
  assert.ok(limit.take("a", rate, 10_001), "the first run left the window");
  assert.ok(!limit.take("a", rate, 10_002));
});
