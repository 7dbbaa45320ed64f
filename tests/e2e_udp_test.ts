/**
 * The UDP channel end to end: a real hub, real datagrams on loopback, real
 * audit log. Signed round trips, every kind of rejection (counted, audited,
 * answered no larger than the datagram), retransmission, a flood from
 * another address, busy, and the seed's plain-text mode with Python.
 */
import assert from "node:assert/strict";
import { UdpClient } from "../client/udp_client.ts";
import { openDatabase } from "../persistence/database.ts";
import { type AuditEntry, queryAudit } from "../persistence/audit_store.ts";
import { signingKeyFromHex } from "../protocols/udp/hmac.ts";
import { decodeReply, encodeRequest, type UdpRequest } from "../protocols/udp/udp_datagram.ts";
import { createMessage } from "../broker/envelope.ts";
import type { DeviceSnapshot } from "../broker/messages.ts";
import type { Hub } from "../hub.ts";
import { createCommandPath } from "../domain/command_path.ts";
import { ActorSystem } from "../actors/actor_system.ts";
import type { ActorBehaviour } from "../actors/actor.ts";
import { createAuditActor } from "../actors/audit_actor.ts";
import { startUdpListener } from "../protocols/udp/udp_listener.ts";
import {
  type HubFixture,
  listenerPort,
  startTestHub,
  TEST_SECRETS,
} from "./helpers/hub_fixture.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const keyOf = (p: string) => signingKeyFromHex(TEST_SECRETS.udpKeyHex(p))!;
let counter = 0;

/** A fresh signed request of `principal` (fresh nonce and id unless given). */
function sign(principal: string, fields: Partial<UdpRequest> & Pick<UdpRequest, "kind" | "body">) {
  counter++;
  const request: UdpRequest = {
    principal,
    timestamp: Math.floor(Date.now() / 1000),
    nonce: (0x10000000 + counter).toString(16) + crypto.randomUUID().slice(0, 8),
    id: `t${counter}`,
    ...fields,
  };
  return { request, bytes: encodeRequest(request, keyOf(principal)) };
}

/** A raw socket for hand-made datagrams. */
class RawSocket implements Disposable {
  readonly conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  constructor(readonly port: number) {}
  send(bytes: Uint8Array): Promise<number> {
    return this.conn.send(bytes, { transport: "udp", hostname: "127.0.0.1", port: this.port });
  }
  /** The next datagram that arrives (fails the test after 5 s). */
  async receive(): Promise<Uint8Array> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("No reply within 5 s")), 5000);
    });
    try {
      const [data] = await Promise.race([this.conn.receive(), late]);
      return data;
    } finally {
      clearTimeout(timer);
    }
  }
  async exchange(bytes: Uint8Array): Promise<Uint8Array> {
    await this.send(bytes);
    return await this.receive();
  }
  [Symbol.dispose](): void {
    this.conn.close();
  }
}

async function deviceState(hub: Hub, device: string): Promise<DeviceSnapshot["state"]> {
  const result = await hub.broker.ask(
    createMessage("device.query", { device }, { principal: "admin", channel: "system" }),
    { timeoutMs: 2000 },
  );
  assert.ok(result.ok && result.reply.payload.ok);
  return result.reply.payload.value[0]!.state;
}

async function auditEntries(fixture: HubFixture): Promise<AuditEntry[]> {
  await fixture.hub.broker.settled();
  const db = openDatabase(fixture.hub.config.paths.database, { readOnly: true });
  try {
    return queryAudit(db, { limit: 10_000 });
  } finally {
    db.close();
  }
}

function metric(hub: Hub, name: string): number {
  return hub.listeners.get("udp")!.metrics()[name] ?? 0;
}

function client(fixture: HubFixture, principal: string): UdpClient {
  return UdpClient.open({
    hostname: "127.0.0.1",
    port: listenerPort(fixture.hub, "udp"),
    principal,
    keyHex: TEST_SECRETS.udpKeyHex(principal),
  });
}

Deno.test("udp - a signed command is applied, answered with the new state and audited", async () => {
  await using fixture = await startTestHub();
  const admin = client(fixture, "admin");
  try {
    const result = await admin.command("lamp on");
    assert.ok(result.ok, JSON.stringify(result));
    assert.match(result.text, /^lamp power=on brightness=\d+$/);
    assert.equal((await deviceState(fixture.hub, "lamp")).power, "on");
    const entries = await auditEntries(fixture);
    const entry = entries.find((e) => e.action === "device.command" && e.device === "lamp");
    assert.ok(entry, "audit entry present");
    assert.equal(entry.channel, "udp");
    assert.equal(entry.principal, "admin");
    assert.equal(entry.outcome, "ok");
    assert.match(entry.detail ?? "", /"command":"lamp on"/);
  } finally {
    await admin.closed();
  }
});

Deno.test("udp - a signed reading updates the sensor's state and is audited", async () => {
  await using fixture = await startTestHub();
  const sensor = client(fixture, "hall-sensor");
  const button = client(fixture, "hall-button");
  try {
    const reading = await sensor.report("hall-sensor", "temperature", 21.4);
    assert.deepEqual(reading.ok && reading.text, "hall-sensor temperature=21.4");
    assert.equal((await deviceState(fixture.hub, "hall-sensor")).temperature, 21.4);
    const press = await button.report("hall-button", "press");
    assert.ok(press.ok, JSON.stringify(press));
    assert.equal((await deviceState(fixture.hub, "hall-button")).press, true);
    // The sensor may not report for another device: signed, specific refusal.
    const other = await sensor.report("hall-button", "press");
    assert.ok(!other.ok && other.signed && other.code === "forbidden", JSON.stringify(other));
    const entries = await auditEntries(fixture);
    assert.ok(
      entries.some((e) =>
        e.action === "device.reading" && e.device === "hall-sensor" && e.outcome === "ok"
      ),
    );
  } finally {
    await sensor.closed();
    await button.closed();
  }
});

Deno.test("udp - each rejection is specific, counted, audited, never larger than its datagram, and the listener still serves", async () => {
  await using fixture = await startTestHub();
  const hub = fixture.hub;
  using raw = new RawSocket(listenerPort(hub, "udp"));
  const admin = keyOf("admin");
  const now = Math.floor(Date.now() / 1000);

  const good = sign("admin", { kind: "cmd", body: "porch-light on" });
  const goodReply = decodeReply(await raw.exchange(good.bytes), admin);
  assert.ok(goodReply.signed === true && goodReply.reply.status === "ok");

  const badMac = good.bytes.slice();
  badMac[badMac.length - 1] = badMac[badMac.length - 1] === 0x30 ? 0x31 : 0x30;
  const reusedNonce = sign("admin", {
    kind: "cmd",
    body: "porch-light off",
    nonce: good.request.nonce,
  });
  const stranger = encodeRequest(
    { ...sign("admin", { kind: "cmd", body: "lamp on" }).request, principal: "nobody" },
    signingKeyFromHex("11".repeat(32))!,
  );
  const cases: {
    name: string;
    bytes: Uint8Array;
    code: string;
    signed: boolean;
    reason: string;
  }[] = [
    { name: "bad MAC", bytes: badMac, code: "unauthenticated", signed: false, reason: "bad_mac" },
    {
      name: "unknown principal",
      bytes: stranger,
      code: "unauthenticated",
      signed: false,
      reason: "unknown_principal",
    },
    {
      name: "old timestamp",
      bytes: sign("admin", { kind: "cmd", body: "lamp off", timestamp: now - 3600 }).bytes,
      code: "stale",
      signed: true,
      reason: "stale",
    },
    {
      name: "replayed nonce",
      bytes: reusedNonce.bytes,
      code: "replayed",
      signed: true,
      reason: "replayed_nonce",
    },
    {
      name: "oversized",
      bytes: sign("admin", { kind: "cmd", body: "lamp on " + "x".repeat(1300) }).bytes,
      code: "too_large",
      signed: false,
      reason: "too_large",
    },
    {
      name: "garbage",
      bytes: crypto.getRandomValues(new Uint8Array(64)),
      code: "malformed",
      signed: false,
      reason: "not_utf8",
    },
    {
      name: "malformed field",
      bytes: encoder.encode(`HUB1 admin ${now} zz 1 cmd lamp on ${"0".repeat(64)}`),
      code: "malformed",
      signed: false,
      reason: "bad_nonce",
    },
    {
      name: "unknown device",
      bytes: sign("admin", { kind: "cmd", body: "toaster on" }).bytes,
      code: "unknown_device",
      signed: true,
      reason: "unknown_device",
    },
    {
      name: "out of range",
      bytes: sign("admin", { kind: "cmd", body: "thermostat set 99" }).bytes,
      code: "out_of_range",
      signed: true,
      reason: "out_of_range",
    },
    {
      name: "forbidden",
      bytes: sign("kitchen-panel", { kind: "cmd", body: "front-door unlock" }).bytes,
      code: "forbidden",
      signed: true,
      reason: "forbidden",
    },
    {
      name: "id reused for another body",
      bytes: sign("admin", { kind: "cmd", body: "porch-light off", id: good.request.id }).bytes,
      code: "replayed",
      signed: true,
      reason: "id_reused",
    },
  ];
  for (const c of cases) {
    const reply = await raw.exchange(c.bytes);
    assert.ok(
      reply.length <= c.bytes.length,
      `${c.name}: reply ${reply.length} bytes > datagram ${c.bytes.length}`,
    );
    const signer = c.name === "forbidden" ? keyOf("kitchen-panel") : admin;
    const decoded = decodeReply(reply, signer);
    assert.equal(decoded.signed, c.signed, `${c.name}: ${decoder.decode(reply)}`);
    assert.ok(decoded.signed !== null);
    const code = decoded.signed ? decoded.reply.status : decoded.reply.code;
    assert.equal(code, c.code, `${c.name}: ${decoder.decode(reply)}`);
    assert.equal(metric(hub, `rejected_total{reason="${c.reason}"}`), 1, `${c.name} counted`);
  }

  // Garbage too short for even "HUB1E malformed": no reply at all, counted as dropped.
  const dropped = metric(hub, "replies_dropped_total");
  await raw.send(encoder.encode("xyz"));
  const after = sign("admin", { kind: "cmd", body: "status porch-light" });
  const served = decodeReply(await raw.exchange(after.bytes), admin);
  assert.ok(served.signed === true && served.reply.status === "ok", "still serves a good client");
  assert.equal(served.reply.text, "porch-light power=on", "no rejected datagram changed state");
  assert.equal(metric(hub, "replies_dropped_total"), dropped + 1);

  const entries = await auditEntries(fixture);
  const audited = (reason: string) =>
    entries.some((e) => (e.detail ?? "").includes(`"reason":"${reason}"`));
  for (const reason of ["bad_mac", "unknown_principal", "stale", "replayed_nonce", "too_large"]) {
    assert.ok(audited(reason), `${reason} audited`);
  }
  assert.ok(entries.some((e) => e.action === "udp.replayed" && e.code === "replayed"));
  assert.ok(
    entries.some((e) => e.action === "device.command" && e.code === "forbidden"),
    "device refusals audited",
  );
});

Deno.test("udp - a retransmitted datagram gets the same reply and is applied once", async () => {
  await using fixture = await startTestHub();
  using raw = new RawSocket(listenerPort(fixture.hub, "udp"));
  const toggle = sign("admin", { kind: "cmd", body: "porch-light toggle" });
  const first = await raw.exchange(toggle.bytes);
  const second = await raw.exchange(toggle.bytes);
  const third = await raw.exchange(toggle.bytes);
  assert.deepEqual(second, first);
  assert.deepEqual(third, first);
  const decoded = decodeReply(first, keyOf("admin"));
  assert.ok(decoded.signed === true && decoded.reply.text === "porch-light power=on");
  assert.equal((await deviceState(fixture.hub, "porch-light")).power, "on", "toggled once");
  assert.equal(metric(fixture.hub, "retransmitted_total"), 2);
  const entries = await auditEntries(fixture);
  assert.equal(
    entries.filter((e) => e.action === "device.command" && e.device === "porch-light").length,
    1,
  );
  assert.equal(entries.filter((e) => e.action === "udp.retransmitted").length, 2);
});

Deno.test("udp - a flood from one address is rate limited there while another address is served", async () => {
  await using fixture = await startTestHub({ env: { UDP_RATE_PER_IP: "20" } });
  const hub = fixture.hub;
  const port = listenerPort(hub, "udp");
  // The flood comes from 127.0.0.2 (Python, so it can bind it); 1000 junk datagrams of 40 bytes.
  const flood = new Deno.Command("python3", {
    args: [
      "-c",
      `import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.2", 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
for i in range(1000):
    s.sendto(b"flood %034d" % i, ("127.0.0.1", ${port}))
print("sent", flush=True)
sys.stdin.readline()
s.setblocking(False)
count = size = 0
while True:
    try:
        size += len(s.recv(2048)); count += 1
    except BlockingIOError:
        break
print(count, size, flush=True)`,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = flood.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("sent\n")) {
    const chunk = await lines.read();
    assert.ok(!chunk.done, "python ended early");
    text += chunk.value;
  }
  // The kernel queue is first in, first out: once this good exchange is answered, the flood was handled.
  const admin = client(fixture, "admin");
  try {
    const result = await admin.command("lamp on");
    assert.ok(result.ok, JSON.stringify(result));
  } finally {
    await admin.closed();
  }
  const writer = flood.stdin.getWriter();
  await writer.write(encoder.encode("drain\n"));
  await writer.close();
  while (!/\d+ \d+\n/.test(text.slice(text.indexOf("sent\n") + 5))) {
    const chunk = await lines.read();
    if (chunk.done) break;
    text += chunk.value;
  }
  await lines.cancel();
  assert.equal((await flood.status).code, 0);
  const [replies, replyBytes] = text.trim().split("\n").at(-1)!.split(" ").map(Number) as [
    number,
    number,
  ];
  const limited = metric(hub, 'rejected_total{reason="rate_limited_address"}');
  const malformed = metric(hub, 'rejected_total{reason="not_signed_format"}');
  assert.ok(limited > 0, "rate limit hit");
  assert.ok(malformed < limited, `most of the flood was refused early: ${malformed}/${limited}`);
  assert.equal(metric(hub, "datagrams_total"), limited + malformed + 1, "every datagram counted");
  assert.ok(replies <= malformed + 2, `replies ${replies} vs handled ${malformed}`);
  assert.ok(replyBytes <= replies * 40, "no reply larger than its datagram");
  // Closing the listener writes the flood's summary to the audit log.
  await hub.listeners.get("udp")!.close();
  const entries = await auditEntries(fixture);
  const summaries = entries.filter((e) =>
    e.action === "udp.rejected_summary" && (e.detail ?? "").includes("rate_limited_address")
  );
  assert.ok(summaries.length > 0, "flood summarised in the audit log");
  const summed = summaries.reduce((n, e) => n + JSON.parse(e.detail!).count, 0);
  assert.equal(summed, limited, "the summaries account for every refused datagram");
});

Deno.test("udp - seed mode (UDP_AUTH=none): a Python socket client gets the seed's exact reply", async () => {
  await using fixture = await startTestHub({ env: { UDP_AUTH: "none" } });
  const port = listenerPort(fixture.hub, "udp");
  const output = await new Deno.Command("python3", {
    args: [
      "-c",
      `import socket
for command in [b"lamp on", b"lamp fly"]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(command, ("127.0.0.1", ${port}))
    data, _ = s.recvfrom(1024)
    print(data.decode())
    s.close()`,
    ],
    stdout: "piped",
  }).output();
  assert.equal(output.code, 0);
  const [ok, failed] = decoder.decode(output.stdout).trim().split("\n");
  assert.equal(ok, "UDP command 'lamp on' executed.");
  assert.match(failed ?? "", /^UDP command 'lamp fly' failed: /);
  assert.ok(encoder.encode(failed).length <= "UDP command 'lamp fly' executed.".length);
  assert.equal((await deviceState(fixture.hub, "lamp")).power, "on");
  const entries = await auditEntries(fixture);
  assert.ok(
    entries.some((e) =>
      e.action === "device.command" && e.principal === "anonymous" && e.outcome === "ok"
    ),
  );
  // Signed datagrams still work in this mode.
  const admin = client(fixture, "admin");
  try {
    const result = await admin.command("lamp off");
    assert.ok(result.ok && result.text.startsWith("lamp power=off"), JSON.stringify(result));
  } finally {
    await admin.closed();
  }
});

Deno.test("udp - plain text is refused in the default hmac mode", async () => {
  await using fixture = await startTestHub();
  using raw = new RawSocket(listenerPort(fixture.hub, "udp"));
  const plain = encoder.encode("lamp on, please, right now");
  const reply = await raw.exchange(plain);
  assert.ok(reply.length <= plain.length);
  assert.equal(decoder.decode(reply), "HUB1E malformed - Datagram");
  // Shorter than "HUB1E malformed": no reply at all (counted), and the next one is served.
  await raw.send(encoder.encode("lamp on"));
  const next = await raw.exchange(encoder.encode("x".repeat(40)));
  assert.match(decoder.decode(next), /^HUB1E malformed/);
  assert.equal(metric(fixture.hub, "replies_dropped_total"), 1);
  assert.equal((await deviceState(fixture.hub, "lamp")).power, "off");
});

Deno.test("udp - a full device mailbox answers busy, applies nothing, and the same datagram works later", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udp_busy_" });
  const broker = new ActorSystem();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const applied: string[] = [];
  // A stand-in device actor that holds its first command until released; mailbox of one.
  const device: ActorBehaviour<null, "device.command"> = {
    name: "device",
    consumes: ["device.command"],
    init: () => null,
    async handle(state, message) {
      await gate;
      applied.push(message.payload.action);
      const snapshot = {
        id: message.payload.device,
        type: "switch",
        name: "x",
        room: "x",
        state: { power: message.payload.action },
        updatedAt: null,
      };
      return { state, reply: { ok: true as const, value: snapshot } };
    },
  };
  await broker.spawn(createAuditActor({ databasePath: `${dir}/hub.db`, sync: "normal" }));
  await broker.spawn(device, { mailboxCapacity: 1 });
  const listener = startUdpListener(broker, {
    commandPath: createCommandPath(broker, { timeoutMs: 5000 }),
    hostname: "127.0.0.1",
    port: 0,
    auth: "hmac",
    maxDatagramBytes: 1200,
    windowSeconds: 30,
    replayCacheSize: 100,
    replyCacheSize: 100,
    ratePerAddress: 1000,
    ratePerPrincipal: 1000,
    maxInFlight: 100,
    principals: [{ id: "admin", kind: "controller", grants: [], channels: ["udp"] }],
    udpKey: () => Uint8Array.from(Buffer.from(TEST_SECRETS.udpKeyHex("admin"), "hex")),
  });
  try {
    using raw = new RawSocket(listener.port);
    const a = sign("admin", { kind: "cmd", body: "porch-light on" });
    const b = sign("admin", { kind: "cmd", body: "porch-light off" });
    const c = sign("admin", { kind: "cmd", body: "porch-light toggle" });
    await raw.send(a.bytes); // taken by the actor, held at the gate
    await raw.send(b.bytes); // fills the mailbox
    const busy = await raw.exchange(c.bytes);
    const decoded = decodeReply(busy, keyOf("admin"));
    assert.ok(decoded.signed === true && decoded.reply.status === "busy", decoder.decode(busy));
    assert.equal(decoded.reply.id, c.request.id);
    assert.ok(busy.length <= c.bytes.length);
    release();
    const replies = [await raw.receive(), await raw.receive()].map((r) =>
      decodeReply(r, keyOf("admin"))
    );
    assert.ok(replies.every((r) => r.signed === true && r.reply.status === "ok"));
    assert.deepEqual(applied, ["on", "off"], "the busy datagram was not applied");
    // Nothing happened, so the very same bytes are not a replay: sent again, applied once.
    const again = decodeReply(await raw.exchange(c.bytes), keyOf("admin"));
    assert.ok(again.signed === true && again.reply.status === "ok");
    assert.deepEqual(applied, ["on", "off", "toggle"]);
    assert.equal(listener.metrics()['rejected_total{reason="busy"}'], 1);
  } finally {
    await listener.close();
    await broker.drain();
    await Deno.remove(dir, { recursive: true });
  }
});
