/**
 * The device actor's pending confirmations (actors/device_bindings.ts), on a
 * test timer: matched reports confirm, silence times out, going offline and
 * send failures fail at once, and the bridge's state gates sending.
 *
 * @module
 */
import assert from "node:assert/strict";
import { confirmationKeys, DeviceBindings, type SetTimer } from "../actors/device_bindings.ts";
import type { DeviceSnapshot, Outcome } from "../broker/messages.ts";

/** Timers fired by hand. */
function manualTimers(): { setTimer: SetTimer; fireAll: () => void; count: () => number } {
  const timers = new Map<number, () => void>();
  let next = 0;
  return {
    setTimer: (_ms, fire) => {
      const id = next++;
      timers.set(id, fire);
      return () => timers.delete(id);
    },
    fireAll: () => {
      for (const [id, fire] of [...timers]) {
        timers.delete(id);
        fire();
      }
    },
    count: () => timers.size,
  };
}

const snapshot: DeviceSnapshot = {
  id: "lamp",
  type: "light",
  name: "Lamp",
  room: "r",
  state: { power: "on", brightness: 40 },
  updatedAt: null,
};

Deno.test("device bindings - a report with the asked keys confirms; other keys or values do not", () => {
  const timers = manualTimers();
  const b = new DeviceBindings({ confirmTimeoutMs: 1000, setTimer: timers.setTimer });
  b.setBridge(true);
  const answers: Outcome<DeviceSnapshot>[] = [];
  b.await({
    command: "c1",
    device: "lamp",
    action: "brightness",
    desired: { power: "on", brightness: 40 },
  }, (o) => answers.push(o));
  assert.deepEqual(b.matched("lamp", { power: "on", brightness: 39 }), []);
  assert.deepEqual(b.matched("other", { power: "on", brightness: 40 }), []);
  const matches = b.matched("lamp", { power: "on", brightness: 40, extra: 1 });
  assert.deepEqual(matches.map((m) => m.command), ["c1"]);
  matches[0]!.confirm(snapshot);
  assert.deepEqual(answers, [{ ok: true, value: snapshot }]);
  assert.equal(timers.count(), 0);
  timers.fireAll();
  assert.equal(answers.length, 1);
});

Deno.test("device bindings - silence times out with device_timeout; offline and send failures answer at once", () => {
  const timers = manualTimers();
  const b = new DeviceBindings({ confirmTimeoutMs: 1000, setTimer: timers.setTimer });
  assert.equal(b.refusal("lamp")?.code, "unavailable");
  b.setBridge(true);
  const answers: Outcome<DeviceSnapshot>[] = [];
  const push = (o: Outcome<DeviceSnapshot>) => answers.push(o);
  b.await(
    { command: "t", device: "lamp", action: "on", desired: { power: "on" }, timeoutMs: 300 },
    push,
  );
  timers.fireAll();
  assert.equal(answers[0]?.ok, false);
  if (!answers[0]!.ok) {
    assert.equal(answers[0]!.error.code, "device_timeout");
    assert.match(answers[0]!.error.message, /within 300 ms: not applied/);
  }
  b.await({ command: "o", device: "lamp", action: "off", desired: { power: "off" } }, push);
  b.setOnline("lamp", false);
  assert.equal(answers[1]?.ok === false && answers[1].error.code, "device_offline");
  assert.equal(b.refusal("lamp")?.code, "device_offline");
  b.setOnline("lamp", true);
  b.await({ command: "s", device: "lamp", action: "on", desired: { power: "on" } }, push);
  b.sendFailed("s", "the MQTT broker is not connected");
  assert.equal(answers[2]?.ok === false && answers[2].error.code, "unavailable");
  assert.equal(b.pending, 0);
  assert.equal(timers.count(), 0);
});

Deno.test("device bindings - brightness 0 is confirmed by power off alone", () => {
  assert.deepEqual(confirmationKeys("brightness", { power: "off", brightness: 0 }), ["power"]);
  assert.deepEqual(confirmationKeys("position", { position: 30 }), ["position"]);
});
