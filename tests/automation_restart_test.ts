/**
 * Automations across restarts, on a real database file: a time trigger due
 * while the hub was down fires once at start (within the grace window) and
 * never twice; one not yet due does not fire; a restart right after a run
 * does not repeat it; a held-for in progress is cancelled; restored states
 * fire nothing.
 */
import assert from "node:assert/strict";
import type { Home } from "../config/home.ts";
import {
  homeWith,
  runsOf,
  settle,
  startAutomationHub,
  stateOf,
  TestClock,
  until,
} from "./helpers/automation_fixture.ts";
import type { HubFixture } from "./helpers/hub_fixture.ts";
import { command } from "./helpers/automation_fixture.ts";

const at = (iso: string) => Date.parse(iso);
/** 23:30 in Paris on 1 June 2026 (UTC+2). */
const DUE = at("2026-06-01T21:30:00Z");

const nightRule = homeWith([{
  id: "night",
  principal: "automations",
  trigger: { kind: "time", at: "23:30" },
  actions: [{ kind: "command", device: "porch-light", action: "toggle" }],
}]);

/** Runs `work` on a hub over `dir` at `clock`, then stops it (keeping the data). */
async function onHub<T>(
  dir: string,
  home: Home,
  clock: TestClock,
  work: (fx: HubFixture) => Promise<T>,
): Promise<T> {
  const fx = await startAutomationHub(home, clock, { dir, keepDir: true });
  try {
    return await work(fx);
  } finally {
    await fx.stop();
  }
}

Deno.test("automation restart - a time due while the hub was down fires once at start, and not again at the next start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auto_restart_" });
  try {
    const clock = new TestClock(at("2026-06-01T21:00:00Z"));
    await onHub(dir, nightRule, clock, async (fx) => {
      await settle(fx);
      assert.equal(runsOf(fx, "night").length, 0);
    });
    clock.set(at("2026-06-01T21:32:00Z")); // down over 23:30; back 2 minutes later
    await onHub(dir, nightRule, clock, async (fx) => {
      await until("the missed run", () => runsOf(fx, "night")[0]?.outcome === "ok");
      assert.equal(runsOf(fx, "night")[0]!.due_at, DUE);
      assert.equal((await stateOf(fx, "porch-light")).power, "on");
    });
    clock.set(at("2026-06-01T21:33:00Z"));
    await onHub(dir, nightRule, clock, async (fx) => {
      await settle(fx);
      assert.equal(runsOf(fx, "night").length, 1, "never twice");
      assert.equal((await stateOf(fx, "porch-light")).power, "on");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("automation restart - a time not yet due does not fire at start; one missed beyond the grace window does not either", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auto_restart_" });
  try {
    const clock = new TestClock(at("2026-06-01T21:00:00Z"));
    await onHub(dir, nightRule, clock, () => Promise.resolve());
    clock.set(at("2026-06-01T21:20:00Z"));
    await onHub(dir, nightRule, clock, async (fx) => {
      await settle(fx);
      assert.equal(runsOf(fx, "night").length, 0, "not due yet");
    });
    clock.set(at("2026-06-01T21:40:00Z")); // 10 minutes late: past the 5-minute grace
    await onHub(dir, nightRule, clock, async (fx) => {
      await settle(fx);
      assert.equal(runsOf(fx, "night").length, 0, "too late");
      // The next day's occurrence still fires: the trigger is alive.
      clock.set(at("2026-06-02T21:30:00Z"));
      await until("the next day's run", () => runsOf(fx, "night").length === 1);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("automation restart - a restart right after a run does not repeat it (time and interval triggers)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auto_restart_" });
  const home = homeWith([
    {
      id: "night",
      principal: "automations",
      trigger: { kind: "time", at: "23:30" },
      actions: [{ kind: "command", device: "porch-light", action: "toggle" }],
    },
    {
      id: "minutely",
      principal: "automations",
      trigger: { kind: "interval", everySeconds: 60 },
      actions: [{ kind: "command", device: "lamp", action: "toggle" }],
    },
  ]);
  try {
    const clock = new TestClock(at("2026-06-01T21:29:00Z"));
    await onHub(dir, home, clock, async (fx) => {
      clock.set(DUE);
      await until(
        "both runs",
        () =>
          runsOf(fx, "night")[0]?.outcome === "ok" && runsOf(fx, "minutely")[0]?.outcome === "ok",
      );
    });
    clock.set(DUE + 1_000);
    await onHub(dir, home, clock, async (fx) => {
      await settle(fx);
      assert.equal(runsOf(fx, "night").length, 1);
      assert.equal(runsOf(fx, "minutely").length, 1);
      assert.equal((await stateOf(fx, "porch-light")).power, "on");
      assert.equal((await stateOf(fx, "lamp")).power, "on");
      clock.set(DUE + 60_000); // the interval continues from its last run
      await until("the next interval run", () => runsOf(fx, "minutely").length === 2);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("automation restart - a held-for in progress is cancelled by a restart, and restored states fire nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auto_restart_" });
  const home = homeWith([
    {
      id: "garage-open-long",
      principal: "automations",
      trigger: { kind: "state", device: "garage", to: 100, forSeconds: 600 },
      actions: [{ kind: "command", device: "lamp", action: "on" }],
    },
    {
      id: "garage-opened",
      principal: "automations",
      trigger: { kind: "state", device: "garage", to: 100 },
      actions: [{ kind: "command", device: "porch-light", action: "toggle" }],
    },
  ]);
  try {
    const clock = new TestClock(at("2026-06-01T21:00:00Z"));
    await onHub(dir, home, clock, async (fx) => {
      await command(fx, "garage", "open");
      await until("the opened run", () => runsOf(fx, "garage-opened").length === 1);
      clock.advance(300_000);
      await settle(fx);
    });
    clock.advance(400_000); // past the 600 s the hold needed
    await onHub(dir, home, clock, async (fx) => {
      await settle(fx);
      clock.advance(1_000_000);
      await settle(fx);
      assert.equal((await stateOf(fx, "garage")).position, 100, "state restored");
      assert.equal(runsOf(fx, "garage-open-long").length, 0, "the hold was cancelled");
      assert.equal(runsOf(fx, "garage-opened").length, 1, "a restored state is not a change");
      assert.equal((await stateOf(fx, "lamp")).power, "off");
      // A new change starts a new hold.
      await command(fx, "garage", "close");
      await command(fx, "garage", "open");
      await settle(fx);
      clock.advance(601_000);
      await until("the new hold's run", () => runsOf(fx, "garage-open-long").length === 1);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("automation restart - a run cut short by a stop during its delay is recorded interrupted and not run again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auto_restart_" });
  const home = homeWith([{
    id: "pulse",
    principal: "automations",
    trigger: { kind: "time", at: "23:30" },
    actions: [
      { kind: "command", device: "lamp", action: "on" },
      { kind: "delay", seconds: 60 },
      { kind: "command", device: "lamp", action: "off" },
    ],
  }]);
  try {
    const clock = new TestClock(at("2026-06-01T21:29:00Z"));
    await onHub(dir, home, clock, async (fx) => {
      clock.set(DUE);
      await until("the lamp on", async () => (await stateOf(fx, "lamp")).power === "on");
    });
    clock.set(DUE + 120_000); // within grace, past the delay
    await onHub(dir, home, clock, async (fx) => {
      await settle(fx);
      const runs = runsOf(fx, "pulse");
      assert.deepEqual(runs.map((r) => r.outcome), ["interrupted"]);
      assert.equal((await stateOf(fx, "lamp")).power, "on", "not repeated, not resumed");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
