/**
 * Supervision that gives up: restart intensity, the `unavailable` answer,
 * `/healthz`, and dead letters that never loop.
 */
import assert from "node:assert/strict";
import { ActorSystem } from "../actors/actor_system.ts";
import type { ActorBehaviour } from "../actors/actor.ts";
import { createMessage } from "../broker/envelope.ts";
import type { Message } from "../broker/messages.ts";
import { checkHealth } from "../observability/health.ts";
import { ManualClock } from "./helpers/manual_clock.ts";

const SOURCE = { principal: "test", channel: "cli" } as const;
const command = (device: string) =>
  createMessage("device.command", { device, action: "on", args: [] }, SOURCE);
const FAST = { backoffInitialMs: 1, backoffMaxMs: 4 };

/** Waits until `done()` holds, polling, for at most `ms`. */
async function until(done: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

Deno.test("an actor that always throws dead-letters each message once and never loops on its own dead letters", async () => {
  const system = new ActorSystem();
  const handled: string[] = [];
  const deadLetters: Message<"system.dead_lettered">[] = [];
  system.subscribe(["system.dead_lettered"], (m) => deadLetters.push(m));
  const alwaysThrows: ActorBehaviour<null, "device.command" | "system.dead_lettered"> = {
    name: "broken",
    consumes: ["device.command", "system.dead_lettered"],
    init: () => null,
    handle(_state, message) {
      handled.push(message.type);
      throw new Error("always");
    },
  };
  const ref = await system.spawn(alwaysThrows, { ...FAST, maxAttempts: 3, maxRestarts: 100 });
  const asked = await system.ask(command("lamp"), { timeoutMs: 2000 });
  assert.ok(!asked.ok);
  assert.equal(asked.failure.kind, "dead_lettered");
  // A dead-letter loop would keep the actor busy for ever: settling within the bound proves none.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    system.settled().then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 3000))),
  ]);
  clearTimeout(timer);
  assert.ok(settled, "the actor settled: no dead-letter loop");
  assert.deepEqual(deadLetters.map((d) => d.payload.messageType), ["device.command"]);
  assert.deepEqual(handled, [
    "device.command",
    "device.command",
    "device.command",
    "system.dead_lettered",
    "system.dead_lettered",
    "system.dead_lettered",
  ]);
  assert.equal(ref.stats().deadLetters, 2);
  await system.drain();
});

Deno.test("an actor whose init keeps failing is marked failed after its restart intensity; callers get unavailable and /healthz is unhealthy", async () => {
  const system = new ActorSystem();
  let inits = 0;
  const gaveUp: string[] = [];
  system.subscribe(["system.actor_gave_up"], (m) => gaveUp.push(m.payload.reason));
  const fragile: ActorBehaviour<null, "device.command"> = {
    name: "fragile",
    consumes: ["device.command"],
    init: () => {
      inits++;
      if (inits > 1) throw new Error("database will not open");
      return null;
    },
    handle() {
      throw new Error("crash");
    },
  };
  const ref = await system.spawn(fragile, { ...FAST, maxRestarts: 3, restartWindowMs: 60_000 });
  const first = await system.ask(command("lamp"), { timeoutMs: 2000 });
  assert.ok(!first.ok);
  assert.equal(first.failure.kind, "unavailable");
  await until(() => ref.stats().status === "failed");
  assert.equal(ref.stats().status, "failed");
  assert.equal(inits, 4, "the first init, then three restarts, then it gave up");
  assert.equal(gaveUp.length, 1);
  assert.match(gaveUp[0]!, /database will not open/);

  const later = await system.ask(command("lamp"), { timeoutMs: 2000 });
  assert.ok(!later.ok);
  assert.equal(later.failure.kind, "unavailable");

  const health = checkHealth({ actorStats: () => system.stats(), listeners: new Map() });
  assert.equal(health.status, "unhealthy");
  assert.equal(health.actors.fragile?.status, "failed");
  await system.drain();
});

Deno.test("restarts spread wider than the window never exhaust the intensity", async () => {
  const system = new ActorSystem();
  let now = 0;
  const clocked = new ActorSystem({ clock: { now: () => now } });
  const fails: ActorBehaviour<null, "device.command"> = {
    name: "sometimes",
    consumes: ["device.command"],
    init: () => null,
    handle(state, message, ctx) {
      if (message.payload.device === "bad") throw new Error("bad");
      ctx.reply(message, {
        ok: true,
        value: { id: "ok", type: "switch", name: "ok", room: "r", state: {}, updatedAt: null },
      });
      return { state };
    },
  };
  const ref = await clocked.spawn(fails, {
    ...FAST,
    maxAttempts: 1,
    maxRestarts: 2,
    restartWindowMs: 1000,
  });
  for (let i = 0; i < 6; i++) {
    now += 600; // two restarts never fall within one second
    const bad = await clocked.ask(command("bad"), { timeoutMs: 2000 });
    assert.ok(!bad.ok);
    assert.equal(bad.failure.kind, "dead_lettered");
  }
  assert.equal(ref.stats().status, "running");
  const good = await clocked.ask(command("good"), { timeoutMs: 2000 });
  assert.ok(good.ok);
  await clocked.drain();
  await system.drain();
});

Deno.test("an ask times out on the injected clock, and the request is then never handled", async () => {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock, timers: clock });
  const handled: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow: ActorBehaviour<null, "device.command"> = {
    name: "slow",
    consumes: ["device.command"],
    init: () => null,
    async handle(state, message, ctx) {
      if (message.payload.device === "first") await gate;
      handled.push(message.payload.device);
      ctx.reply(message, {
        ok: true,
        value: { id: "x", type: "switch", name: "x", room: "r", state: {}, updatedAt: null },
      });
      return { state };
    },
  };
  await system.spawn(slow);
  const first = system.ask(command("first"), { timeoutMs: 60_000 });
  let settled = false;
  const second = system.ask(command("second"), { timeoutMs: 1000 }).finally(() => {
    settled = true;
  });
  clock.advance(999);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(settled, false, "not timed out before its deadline");
  clock.advance(20);
  const timedOut = await second;
  assert.ok(!timedOut.ok);
  assert.equal(timedOut.failure.kind, "timeout");
  release();
  assert.ok((await first).ok);
  await system.settled();
  assert.deepEqual(handled, ["first"], "the timed-out request was skipped, never applied");
  await system.drain();
});
