/**
 * Live events over real HTTP: the SSE stream (snapshot, state changes only
 * once recorded, resumption with Last-Event-ID, grants, a slow reader cut
 * off) and the WebSocket API (authentication first, commands and
 * subscriptions with ids, refusals, a slow reader cut off).
 */
import assert from "node:assert/strict";
import { startTestHub } from "./helpers/hub_fixture.ts";
import { auditEntries, baseUrl, bearer, call } from "./helpers/http_api.ts";
import { openEvents } from "./helpers/sse_client.ts";
import { createMessage } from "../broker/envelope.ts";
import type { Hub } from "../hub.ts";
import { TEST_SECRETS } from "./helpers/hub_fixture.ts";

const ADMIN = bearer("admin");

const command = (hub: Hub, device: string, action: string, value?: unknown) =>
  call(hub, "POST", `/api/devices/${device}/commands`, {
    headers: ADMIN,
    body: value === undefined ? { action } : { action, value },
  });

Deno.test("sse - the stream opens with a snapshot, then carries each change after it is recorded", async () => {
  await using fx = await startTestHub();
  await using events = await openEvents(fx.hub, ADMIN);
  assert.equal(events.status, 200);
  const snapshot = await events.next();
  assert.equal(snapshot.event, "snapshot");
  assert.equal(snapshot.data.devices.length, 8);
  assert.equal((await command(fx.hub, "lamp", "on")).status, 200);
  const change = await events.until((f) => f.event === "state");
  assert.equal(change.data.device, "lamp");
  assert.equal(change.data.state.power, "on");
  assert.deepEqual(change.data.by, { principal: "admin", channel: "http" });
  const recorded = (await auditEntries(fx.hub)).find((e) =>
    e.device === "lamp" && e.outcome === "ok"
  );
  assert.ok(recorded, "the change is in the audit log");
});

Deno.test("sse - a client resuming with Last-Event-ID gets exactly the events it missed", async () => {
  await using fx = await startTestHub();
  const first = await openEvents(fx.hub, ADMIN);
  await first.next();
  await command(fx.hub, "lamp", "on");
  const seen = await first.until((f) => f.event === "state");
  await first.close();
  await command(fx.hub, "porch-light", "on");
  await command(fx.hub, "lamp", "brightness", 30);
  await using resumed = await openEvents(fx.hub, { ...ADMIN, "last-event-id": seen.id! });
  const a = await resumed.next();
  const b = await resumed.next();
  assert.deepEqual(
    [a.event, a.data.device],
    ["state", "porch-light"],
    "no snapshot: missed events first",
  );
  assert.deepEqual([b.event, b.data.device, b.data.state.brightness], ["state", "lamp", 30]);
  // An id from an earlier run of the hub (or too old) cannot be resumed: a fresh snapshot instead.
  await using stale = await openEvents(fx.hub, { ...ADMIN, "last-event-id": "00000000-3" });
  const fresh = await stale.next();
  assert.equal(fresh.event, "snapshot");
  assert.equal(
    fresh.data.devices.find((d: { id: string }) => d.id === "lamp").state.brightness,
    30,
  );
});

Deno.test("sse - a principal gets only the changes of devices it may see", async () => {
  await using fx = await startTestHub();
  await using events = await openEvents(fx.hub, bearer("kitchen-panel"));
  const snapshot = await events.next();
  assert.ok(!snapshot.data.devices.some((d: { id: string }) => d.id === "garage"));
  await command(fx.hub, "garage", "open");
  await command(fx.hub, "front-door", "unlock");
  await command(fx.hub, "lamp", "on");
  const next = await events.next();
  assert.equal(next.data.device, "lamp", "the garage and the door were not sent to the panel");
});

Deno.test("sse - a client that does not read is cut off instead of growing the hub's memory", async () => {
  await using fx = await startTestHub();
  const port = fx.hub.listeners.get("http")!.port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer admin:${
      TEST_SECRETS.token("admin")
    }\r\n\r\n`,
  ));
  const big = "x".repeat(60_000);
  let slow = 0;
  for (let round = 0; round < 40 && slow === 0; round++) {
    for (let i = 0; i < 20; i++) {
      fx.hub.broker.publish(createMessage("device.state_changed", {
        device: "lamp",
        state: { power: "on", brightness: 1, padding: big },
        previous: {},
        cause: "test",
      }, { principal: "admin", channel: "cli" }));
    }
    await new Promise((r) => setTimeout(r, 20));
    slow = fx.hub.listeners.get("http")!.metrics().slow_clients_total ?? 0;
  }
  assert.equal(slow, 1, "the stream was cut off");
  conn.close();
});

/** A WebSocket client that queues what it receives. */
async function connectWs(hub: Hub) {
  const ws = new WebSocket(`${baseUrl(hub).replace("http", "ws")}/api/ws`);
  const inbox: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let closed: { code: number; reason: string } | undefined;
  ws.onmessage = (e) => {
    inbox.push(JSON.parse(String(e.data)));
    waiters.splice(0).forEach((w) => w());
  };
  const ended = new Promise<void>((resolve) => {
    ws.onclose = (e) => {
      closed = { code: e.code, reason: e.reason };
      waiters.splice(0).forEach((w) => w());
      resolve();
    };
  });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  // deno-lint-ignore no-explicit-any
  const receive = async (match: (m: any) => boolean = () => true): Promise<any> => {
    for (let i = 0; i < 500; i++) {
      const index = inbox.findIndex(match);
      if (index >= 0) return inbox.splice(index, 1)[0];
      if (closed) throw new Error(`closed ${closed.code} ${closed.reason}`);
      await new Promise<void>((r) => waiters.push(r));
    }
    throw new Error("no such message");
  };
  return {
    send: (m: unknown) => ws.send(JSON.stringify(m)),
    receive,
    closed: async () => (await ended, closed!),
    close: async () => {
      ws.close();
      await ended;
    },
  };
}

Deno.test("ws - authentication comes first; a wrong token is answered auth_invalid and closed", async () => {
  await using fx = await startTestHub();
  const ws = await connectWs(fx.hub);
  assert.equal((await ws.receive()).type, "auth_required");
  ws.send({ type: "auth", token: "admin:wrong" });
  const answer = await ws.receive();
  assert.equal(answer.type, "auth_invalid");
  assert.equal((await ws.closed()).code, 1008);
  const early = await connectWs(fx.hub);
  await early.receive();
  early.send({ id: 1, type: "get_devices" });
  assert.equal((await early.receive()).type, "auth_invalid", "no request before auth");
  await early.closed();
});

Deno.test("ws - commands, subscriptions and refusals by id, with the same grants", async () => {
  await using fx = await startTestHub();
  const ws = await connectWs(fx.hub);
  await ws.receive();
  ws.send({ type: "auth", token: `kitchen-panel:${TEST_SECRETS.token("kitchen-panel")}` });
  assert.deepEqual(await ws.receive(), { type: "auth_ok", principal: "kitchen-panel" });
  ws.send({ id: 1, type: "get_devices" });
  const devices = await ws.receive((m) => m.id === 1);
  assert.equal(devices.success, true);
  assert.equal(devices.result.devices.length, 4);
  ws.send({ id: 2, type: "subscribe_events" });
  assert.equal((await ws.receive((m) => m.id === 2 && m.type === "result")).success, true);
  ws.send({ id: 3, type: "command", device: "lamp", action: "brightness", value: 30 });
  const done = await ws.receive((m) => m.id === 3);
  assert.equal(done.success, true);
  assert.equal(done.result.device.state.brightness, 30);
  const event = await ws.receive((m) => m.id === 2 && m.type === "event");
  assert.equal(event.event.device, "lamp");
  assert.equal(event.event.data.state.brightness, 30);
  const refusals: [unknown, string][] = [
    [{ id: 4, type: "command", device: "thermostat", action: "set", value: 99 }, "out_of_range"],
    [{ id: 5, type: "command", device: "garage", action: "open" }, "forbidden"],
    [{ id: 6, type: "command", device: "../etc", action: "open" }, "malformed"],
    [{ id: 7, type: "fly" }, "malformed"],
    [{ id: 7, type: "ping" }, "malformed"],
  ];
  for (const [message, code] of refusals) {
    ws.send(message);
    const answer = await ws.receive((m) => m.type === "result" && m.success === false);
    assert.equal(answer.error.code, code, JSON.stringify(message));
  }
  ws.send({ id: 8, type: "unsubscribe_events", subscription: 2 });
  assert.equal((await ws.receive((m) => m.id === 8)).success, true);
  ws.send({ id: 9, type: "ping" });
  assert.deepEqual(await ws.receive((m) => m.id === 9), { id: 9, type: "pong" });
  const garage = await call(fx.hub, "GET", "/api/devices/garage", { headers: ADMIN });
  assert.equal(garage.body.device.state.position, 0, "the refused command changed nothing");
  const audited = (await auditEntries(fx.hub)).find((e) =>
    e.device === "garage" && e.code === "forbidden" && e.channel === "http"
  );
  assert.ok(audited, "the refused command is audited");
  await ws.close();
});

Deno.test("ws - a client that does not read is cut off", async () => {
  await using fx = await startTestHub();
  const port = fx.hub.listeners.get("http")!.port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(new TextEncoder().encode(
    `GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  // A masked client frame: {"type":"auth",...} then a subscription; then read nothing more.
  const frame = (text: string) => {
    const payload = new TextEncoder().encode(text);
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const header = payload.length < 126
      ? [0x81, 0x80 | payload.length]
      : [0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
    const out = new Uint8Array(header.length + 4 + payload.length);
    out.set(header);
    out.set(mask, header.length);
    payload.forEach((b, i) => (out[header.length + 4 + i] = b ^ mask[i % 4]!));
    return out;
  };
  await conn.write(
    frame(JSON.stringify({ type: "auth", token: `admin:${TEST_SECRETS.token("admin")}` })),
  );
  await conn.write(frame(JSON.stringify({ id: 1, type: "subscribe_events" })));
  const big = "x".repeat(60_000);
  let slow = 0;
  for (let round = 0; round < 40 && slow === 0; round++) {
    for (let i = 0; i < 20; i++) {
      fx.hub.broker.publish(createMessage("device.state_changed", {
        device: "lamp",
        state: { power: "on", padding: big },
        previous: {},
        cause: "test",
      }, { principal: "admin", channel: "cli" }));
    }
    await new Promise((r) => setTimeout(r, 20));
    slow = fx.hub.listeners.get("http")!.metrics().slow_clients_total ?? 0;
  }
  assert.equal(slow, 1, "the socket was cut off");
  conn.close();
});

Deno.test("ws - a client that never authenticates is closed after HTTP_WS_AUTH_TIMEOUT_MS, and audited", async () => {
  await using fx = await startTestHub({ env: { HTTP_WS_AUTH_TIMEOUT_MS: "200" } });
  const ws = await connectWs(fx.hub);
  assert.equal((await ws.receive()).type, "auth_required");
  const closed = await ws.closed();
  assert.equal(closed.code, 1008);
  const entry = (await auditEntries(fx.hub)).find((e) =>
    e.action === "http.refused" && JSON.stringify(e.detail).includes("ws_auth_timeout")
  );
  assert.ok(entry, "the refusal is audited");
});
