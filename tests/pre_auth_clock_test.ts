/**
 * The pre-login gate's deadline on an injected clock (issue 9): it fires only
 * when the test clock passes it, and a connection that logs in in time or is
 * released cancels its timer.
 */
import assert from "node:assert/strict";
import { PreAuthGate } from "../protocols/pre_auth.ts";
import { ManualClock } from "./helpers/manual_clock.ts";

Deno.test("PreAuthGate's login deadline runs on the injected clock, not on real time", async () => {
  const clock = new ManualClock();
  const gate = new PreAuthGate({
    maxPending: 8,
    maxPendingPerKey: 8,
    loginDeadlineMs: 10,
    timers: clock,
  });
  const ended: string[] = [];
  const late = gate.admit("a", (why) => ended.push(`late ${why}`));
  const onTime = gate.admit("a", (why) => ended.push(`on time ${why}`));
  const released = gate.admit("b", (why) => ended.push(`released ${why}`));
  assert.ok(late.ok && onTime.ok && released.ok);
  assert.equal(clock.pending, 3);
  onTime.ticket.authenticated();
  released.ticket.release();
  assert.equal(clock.pending, 1, "logging in and releasing cancel their timers");
  // Several times the deadline in real time: nothing fires.
  await new Promise((resolve) => setTimeout(resolve, 60));
  clock.advance(9);
  assert.deepEqual(ended, []);
  assert.equal(gate.pending, 1);
  clock.advance(1);
  assert.deepEqual(ended, ["late deadline"]);
  assert.equal(gate.pending, 0);
  assert.equal(gate.metrics().prelogin_deadline_closed_total, 1);
  late.ticket.release();
});
