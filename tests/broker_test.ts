import assert from "node:assert/strict";
import { ActorSystem } from "../actors/actor_system.ts";
import { createMessage } from "../broker/envelope.ts";
import type { ActorBehaviour } from "../actors/actor.ts";
import type { DeviceSnapshot, Message } from "../broker/messages.ts";
import type { InspectionEvent } from "../broker/broker.ts";

const SOURCE = { principal: "test", channel: "cli" } as const;
const command = (device: string, action = "on") =>
  createMessage("device.command", { device, action, args: [] }, SOURCE);
const changed = (device: string) =>
  createMessage("device.state_changed", { device, state: {}, previous: {}, cause: "test" }, SOURCE);

const snapshot = (id: string): DeviceSnapshot => ({
  id,
  type: "light",
  name: id,
  room: "r",
  state: { on: true },
  updatedAt: null,
});

type Topic = "device.command" | "device.state_changed";

interface RecorderOptions {
  readonly consumes?: readonly Topic[];
  /** Each message waits for this promise before it is handled. */
  readonly gate?: () => Promise<void>;
  /** Throws on this device, `failTimes` times (Infinity: always). */
  readonly failOn?: string;
  readonly failTimes?: number;
  readonly inits?: { count: number };
}

/** An actor that records the devices of the messages it handles, in order. */
function recorder(
  name: string,
  seen: string[],
  options: RecorderOptions = {},
): ActorBehaviour<null, Topic> {
  let failures = 0;
  return {
    name,
    consumes: options.consumes ?? ["device.command"],
    init: () => {
      if (options.inits) options.inits.count++;
      return null;
    },
    async handle(state, message: Message<Topic>, ctx) {
      if (options.gate) await options.gate();
      const device = message.payload.device;
      if (device === options.failOn && failures < (options.failTimes ?? Infinity)) {
        failures++;
        throw new Error(`boom on ${device}`);
      }
      seen.push(device);
      if (message.type === "device.command") {
        ctx.reply(message, { ok: true, value: snapshot(device) });
      }
      return { state };
    },
  };
}

const FAST = { backoffInitialMs: 1, backoffMaxMs: 4 };

Deno.test("ask() delivers a typed request and returns the responder's reply", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  await broker.spawn(recorder("responder", seen));
  const result = await broker.ask(command("lamp"), { timeoutMs: 1000 });
  assert.ok(result.ok);
  assert.equal(result.reply.type, "device.command_result");
  assert.ok(result.reply.payload.ok);
  assert.equal(result.reply.payload.value.id, "lamp");
  assert.equal(result.reply.correlationId !== undefined, true);
  await broker.drain();
});

Deno.test("publish() delivers only the kinds an actor consumes, to every consumer", async () => {
  const broker = new ActorSystem();
  const commands: string[] = [];
  const events: string[] = [];
  const alsoEvents: string[] = [];
  await broker.spawn(recorder("commands", commands));
  await broker.spawn(recorder("events", events, { consumes: ["device.state_changed"] }));
  await broker.spawn(recorder("events2", alsoEvents, { consumes: ["device.state_changed"] }));
  const seenBySubscriber: string[] = [];
  const unsubscribe = broker.subscribe(
    ["device.state_changed"],
    (m) => seenBySubscriber.push(m.payload.device),
  );
  assert.ok(broker.publish(changed("garage")).ok);
  assert.ok(broker.publish(command("lamp")).ok);
  await broker.settled();
  assert.deepEqual(commands, ["lamp"]);
  assert.deepEqual(events, ["garage"]);
  assert.deepEqual(alsoEvents, ["garage"]);
  assert.deepEqual(seenBySubscriber, ["garage"]);
  unsubscribe();
  broker.publish(changed("door"));
  await broker.settled();
  assert.deepEqual(seenBySubscriber, ["garage"]);
  await broker.drain();
});

Deno.test("an actor handles its messages one at a time, in the order published", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  await broker.spawn(recorder("ordered", seen, {
    gate: async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await Promise.resolve();
      inFlight--;
    },
  }));
  const expected = Array.from({ length: 200 }, (_, i) => `d${i}`);
  for (const d of expected) assert.ok(broker.publish(command(d)).ok);
  await broker.settled();
  assert.deepEqual(seen, expected);
  assert.equal(maxInFlight, 1);
  await broker.drain();
});

Deno.test("a slow actor does not delay another actor", async () => {
  const broker = new ActorSystem();
  const slowSeen: string[] = [];
  const fastSeen: string[] = [];
  const { promise: release, resolve: open } = Promise.withResolvers<void>();
  await broker.spawn(
    recorder("slow", slowSeen, { consumes: ["device.state_changed"], gate: () => release }),
  );
  await broker.spawn(recorder("fast", fastSeen));
  broker.publish(changed("stuck"));
  // The fast actor answers while the slow one is still blocked.
  const result = await broker.ask(command("lamp"), { timeoutMs: 2000 });
  assert.ok(result.ok);
  assert.deepEqual(fastSeen, ["lamp"]);
  assert.deepEqual(slowSeen, []);
  open();
  await broker.settled();
  assert.deepEqual(slowSeen, ["stuck"]);
  await broker.drain();
});

Deno.test("a throwing handler restarts the actor and the message is retried until it succeeds", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  const inits = { count: 0 };
  const ref = await broker.spawn(recorder("flaky", seen, { failOn: "lamp", failTimes: 2, inits }), {
    ...FAST,
    maxAttempts: 3,
  });
  const result = await broker.ask(command("lamp"), { timeoutMs: 2000 });
  assert.ok(result.ok);
  assert.deepEqual(seen, ["lamp"]);
  const stats = ref.stats();
  assert.equal(stats.restarts, 2);
  assert.equal(stats.failed, 2);
  assert.equal(stats.deadLetters, 0);
  assert.equal(inits.count, 3);
  await broker.drain();
});

Deno.test("a message that always crashes is dead-lettered after maxAttempts and the actor goes on", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  const events: InspectionEvent[] = [];
  broker.inspect((e) => events.push(e));
  const deadLetters: string[] = [];
  broker.subscribe(["system.dead_lettered"], (m) => deadLetters.push(m.payload.messageType));
  const ref = await broker.spawn(recorder("poisoned", seen, { failOn: "poison" }), {
    ...FAST,
    maxAttempts: 3,
  });
  const poisoned = await broker.ask(command("poison"), { timeoutMs: 2000 });
  assert.ok(!poisoned.ok);
  assert.equal(poisoned.failure.kind, "dead_lettered");
  const after = await broker.ask(command("lamp"), { timeoutMs: 2000 });
  assert.ok(after.ok);
  assert.deepEqual(seen, ["lamp"]);
  assert.equal(ref.stats().deadLetters, 1);
  assert.equal(ref.stats().failed, 3);
  assert.deepEqual(deadLetters, ["device.command"]);
  assert.equal(events.filter((e) => e.kind === "dead_lettered").length, 1);
  await broker.drain();
});

Deno.test("a full mailbox makes publish answer busy and delivers to nobody", async () => {
  const broker = new ActorSystem();
  const blockedSeen: string[] = [];
  const otherSeen: string[] = [];
  const { promise: release, resolve: open } = Promise.withResolvers<void>();
  await broker.spawn(
    recorder("blocked", blockedSeen, { consumes: ["device.state_changed"], gate: () => release }),
    {
      mailboxCapacity: 2,
    },
  );
  await broker.spawn(recorder("other", otherSeen, { consumes: ["device.state_changed"] }), {
    mailboxCapacity: 100,
  });
  const pressure: boolean[] = [];
  broker.subscribe(["system.mailbox_pressure"], (m) => pressure.push(m.payload.pressured));
  // One message is taken by the blocked handler, two fill its mailbox.
  assert.ok(broker.publish(changed("a")).ok);
  await Promise.resolve();
  assert.ok(broker.publish(changed("b")).ok);
  assert.ok(broker.publish(changed("c")).ok);
  const refused = broker.publish(changed("d"));
  assert.deepEqual(refused, { ok: false, failure: { kind: "busy", actor: "blocked" } });
  open();
  await broker.settled();
  assert.deepEqual(blockedSeen, ["a", "b", "c"]);
  // One signal when it filled up, one when it drained: not one per message.
  assert.deepEqual(pressure, [true, false]);
  // All-or-nothing: the other consumer did not get "d" either.
  assert.deepEqual(otherSeen, ["a", "b", "c"]);
  await broker.drain();
});

Deno.test("send() waits for room instead of failing, and keeps order", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  await broker.spawn(recorder("small", seen), { mailboxCapacity: 4 });
  const sends = Array.from({ length: 50 }, (_, i) => broker.send(command(`d${i}`)));
  const results = await Promise.all(sends);
  assert.ok(results.every((r) => r.ok));
  await broker.settled();
  assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => `d${i}`));
  await broker.drain();
});

Deno.test("a flood of 100 000 messages keeps the mailbox at its bound and is refused beyond it", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  const capacity = 1000;
  const ref = await broker.spawn(recorder("flooded", seen), { mailboxCapacity: capacity });
  let accepted = 0;
  let busy = 0;
  let deepest = 0;
  for (let i = 0; i < 100_000; i++) {
    const r = broker.publish(command(`d${i}`));
    if (r.ok) accepted++;
    else if (r.failure.kind === "busy") busy++;
    deepest = Math.max(deepest, ref.stats().depth);
  }
  assert.equal(accepted + busy, 100_000);
  assert.ok(busy > 0, "some messages are refused");
  assert.ok(deepest <= capacity, `depth ${deepest} stays within ${capacity}`);
  await broker.settled();
  assert.equal(seen.length, accepted);
  assert.equal(ref.stats().handled, accepted);
  await broker.drain();
});

Deno.test("ask() answers timeout when the responder is too slow, and no_responder when there is none", async () => {
  const broker = new ActorSystem();
  const none = await broker.ask(command("lamp"), { timeoutMs: 100 });
  assert.deepEqual(none, { ok: false, failure: { kind: "no_responder", type: "device.command" } });
  const { promise: release, resolve: open } = Promise.withResolvers<void>();
  await broker.spawn(recorder("stalled", [], { gate: () => release }));
  const late = await broker.ask(command("lamp"), { timeoutMs: 20 });
  assert.deepEqual(late, { ok: false, failure: { kind: "timeout", afterMs: 20 } });
  open();
  await broker.drain();
});

Deno.test("drain() handles every queued message, then refuses new ones", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  const { promise: release, resolve: open } = Promise.withResolvers<void>();
  let terminated = false;
  const behaviour = recorder("draining", seen, { gate: () => release });
  await broker.spawn({ ...behaviour, terminate: () => void (terminated = true) });
  for (let i = 0; i < 10; i++) broker.publish(command(`d${i}`));
  const drained = broker.drain();
  assert.deepEqual(broker.publish(command("late")), { ok: false, failure: { kind: "closed" } });
  open();
  await drained;
  assert.equal(seen.length, 10);
  assert.ok(terminated);
});

Deno.test("stats() reports depth, handled and a handling-time histogram per actor", async () => {
  const broker = new ActorSystem();
  await broker.spawn(recorder("measured", []));
  for (let i = 0; i < 5; i++) broker.publish(command(`d${i}`));
  await broker.settled();
  const [stats] = broker.stats();
  assert.ok(stats);
  assert.equal(stats.name, "measured");
  assert.equal(stats.handled, 5);
  assert.equal(stats.depth, 0);
  assert.equal(stats.handlingMs.counts.reduce((a, b) => a + b, 0), 5);
  assert.equal(stats.status, "running");
  await broker.drain();
});

Deno.test("a request whose ask timed out is never handled, so a timeout means not applied", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  const { promise: release, resolve: open } = Promise.withResolvers<void>();
  await broker.spawn(recorder("stalled", seen, { gate: () => release }));
  broker.publish(command("first"));
  const late = await broker.ask(command("late"), { timeoutMs: 20 });
  assert.deepEqual(late, { ok: false, failure: { kind: "timeout", afterMs: 20 } });
  open();
  await broker.settled();
  const after = await broker.ask(command("after"), { timeoutMs: 1000 });
  assert.ok(after.ok);
  assert.deepEqual(seen, ["first", "after"]);
  await broker.drain();
});

Deno.test("senders waiting for room all get a chance when room appears, even after others gave up", async () => {
  const broker = new ActorSystem();
  const seen: string[] = [];
  const { promise: release, resolve: open } = Promise.withResolvers<void>();
  await broker.spawn(recorder("narrow", seen, { gate: () => release }), { mailboxCapacity: 1 });
  broker.publish(command("a"));
  await Promise.resolve();
  broker.publish(command("b"));
  // This one gives up while the mailbox is full; its waiter must not swallow the next wakeup.
  const gaveUp = await broker.ask(command("c"), { timeoutMs: 10, waitForRoom: true });
  assert.equal(gaveUp.ok, false);
  const waiting = broker.ask(command("d"), { timeoutMs: 5000, waitForRoom: true });
  open();
  const served = await waiting;
  assert.ok(served.ok);
  await broker.settled();
  assert.deepEqual(seen, ["a", "b", "d"]);
  await broker.drain();
});
