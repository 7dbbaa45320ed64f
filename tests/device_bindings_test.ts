/**
 * The device actor's pending confirmations (actors/device_bindings.ts), on a
 * test timer: matched reports confirm, silence times out, going offline hands
 * back the waiting commands, and the bridge's state gates sending.
 *
 * @module
 */
import assert from "node:assert/strict";
import { confirmationKeys, DeviceBindings, type SetTimer } from "../actors/device_bindings.ts";
import type { Message } from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";

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

function command(id: string, action: string): Message<"device.command"> {
  return { ...createMessage("device.command", { device: "lamp", action, args: [] }, SOURCE), id };
}

const SOURCE = { principal: "admin", channel: "tls" } as const;

Deno.test("device bindings - a report with the asked keys confirms; other keys or values do not", () => {
  const timers = manualTimers();
  const b = new DeviceBindings({ confirmTimeoutMs: 1000, setTimer: timers.setTimer });
  b.setBridge(true);
  const timedOut: string[] = [];
  b.await(
    {
      message: command("c1", "brightness"),
      device: "lamp",
      desired: { power: "on", brightness: 40 },
    },
    (id) => timedOut.push(id),
  );
  assert.deepEqual(b.matched("lamp", { power: "on", brightness: 39 }), []);
  assert.deepEqual(b.matched("other", { power: "on", brightness: 40 }), []);
  const matches = b.matched("lamp", { power: "on", brightness: 40, extra: 1 });
  assert.deepEqual(matches.map((m) => m.message.id), ["c1"]);
  assert.equal(timers.count(), 0);
  timers.fireAll();
  assert.deepEqual(timedOut, []);
});

Deno.test("device bindings - silence calls the timeout hook; offline and forget hand back the waiting commands", () => {
  const timers = manualTimers();
  const b = new DeviceBindings({ confirmTimeoutMs: 1000, setTimer: timers.setTimer });
  assert.equal(b.refusal("lamp")?.code, "unavailable");
  b.setBridge(true);
  const timedOut: string[] = [];
  b.await(
    { message: command("t", "on"), device: "lamp", desired: { power: "on" }, timeoutMs: 300 },
    (id) => timedOut.push(id),
  );
  timers.fireAll();
  assert.deepEqual(timedOut, ["t"]);
  assert.equal(b.take("t")?.timeoutMs, 300);
  assert.equal(b.take("t"), undefined);
  b.await({ message: command("o", "off"), device: "lamp", desired: { power: "off" } }, () => {});
  assert.deepEqual(b.setOnline("lamp", false).map((p) => p.message.id), ["o"]);
  assert.equal(b.refusal("lamp")?.code, "device_offline");
  b.setOnline("lamp", true);
  b.await({ message: command("s", "on"), device: "lamp", desired: { power: "on" } }, () => {});
  assert.deepEqual(b.forget("lamp").map((p) => p.message.id), ["s"]);
  assert.equal(b.pending, 0);
  assert.equal(timers.count(), 0);
});

Deno.test("device bindings - brightness 0 is confirmed by power off alone", () => {
  assert.deepEqual(confirmationKeys("brightness", { power: "off", brightness: 0 }), ["power"]);
  assert.deepEqual(confirmationKeys("position", { position: 30 }), ["position"]);
});
