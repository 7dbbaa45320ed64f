/**
 * Bad input never stops the TLS listener: each case is followed by a
 * normal client that must still be served.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type HubFixture,
  listenerPort,
  startTestHub,
  TEST_SECRETS,
} from "./helpers/hub_fixture.ts";
import { openLoggedIn, openText } from "./helpers/tls_text_client.ts";
import { openDatabase } from "../persistence/database.ts";
import { queryAudit } from "../persistence/audit_store.ts";

const admin = TEST_SECRETS.token("admin");

async function stillServes(hub: HubFixture): Promise<void> {
  await using c = await openLoggedIn(hub, "admin", admin);
  assert.match(await c.ask("lamp toggle"), /^Command 'lamp toggle' received and executed\./);
}

async function readToEof(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(4096);
  let total = 0;
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      n = null;
    }
    if (n === null) return total;
    total += n;
  }
}

Deno.test("tls - bare TCP connect-and-close (which kills the seed) leaves the listener serving", async () => {
  await using hub = await startTestHub();
  const port = listenerPort(hub.hub, "tls");
  for (let i = 0; i < 50; i++) (await Deno.connect({ hostname: "127.0.0.1", port })).close();
  await stillServes(hub);
});

Deno.test("tls - plaintext is refused and a client that never handshakes does not hold up others", async () => {
  await using hub = await startTestHub({ env: { TLS_HANDSHAKE_TIMEOUT_MS: "300" } });
  const port = listenerPort(hub.hub, "tls");
  const plain = await Deno.connect({ hostname: "127.0.0.1", port });
  await plain.write(new TextEncoder().encode("lamp on\nGET / HTTP/1.0\r\n\r\n"));
  await readToEof(plain);
  plain.close();
  assert.equal(hub.hub.listeners.get("tls")!.metrics().handshake_failures_total, 1);
  // Silent TCP clients: the accept loop never waits on their handshakes.
  const silent = await Promise.all(
    Array.from({ length: 5 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  try {
    await stillServes(hub);
  } finally {
    for (const s of silent) s.close();
  }
});

Deno.test("tls - invalid UTF-8, binary garbage and oversized lines get errors and the connection goes on", async () => {
  await using hub = await startTestHub({ env: { TLS_MAX_LINE_BYTES: "64" } });
  await using c = await openLoggedIn(hub, "admin", admin);
  await c.send(Uint8Array.of(0xff, 0xfe, 0xc3, 0x28, 0x0a));
  assert.equal(await c.readLine(), "Error malformed: Request is not valid UTF-8");
  const garbage = new Uint8Array(10_000);
  for (let i = 0; i < garbage.length; i++) {
    garbage[i] = (i * 7919) % 256 === 10 ? 0 : (i * 7919) % 256;
  }
  await c.send(garbage);
  await c.send("\n");
  assert.equal(await c.readLine(), "Error too_large: Line longer than 64 bytes: ignored");
  assert.equal(await c.ask("x".repeat(65)), "Error too_large: Line longer than 64 bytes: ignored");
  assert.equal(
    await c.ask("lamp \u0001\u001b[31m"),
    "Error malformed: Actions are words of a-z, 0-9, '-' and '_'",
  );
  assert.equal(await c.ask("ping"), "pong");
  await stillServes(hub);
});

Deno.test("tls - control bytes are escaped and long commands capped in the seed echo", async () => {
  await using hub = await startTestHub({ env: { TLS_AUTH: "none" } });
  await using c = await openText(hub);
  await c.send("lamp\ton\u0007");
  // Tab separates words; the bell is an unknown action character.
  assert.equal(await c.readToEnd(), "Error malformed: Actions are words of a-z, 0-9, '-' and '_'");
  await using d = await openText(hub);
  await d.send("lamp on ");
  assert.equal(await d.readToEnd(), "Command 'lamp on ' received and executed.");
  await using e = await openText(hub);
  await e.send("thermostat mode \u0007\u009b2J");
  assert.equal(
    await e.readToEnd(),
    "Error out_of_range: thermostat mode must be one of heat, cool, off, got '\\x07\\x9b2j'",
  );
});

Deno.test("tls - idle connections get a timeout error and are closed", async () => {
  await using hub = await startTestHub({ env: { TLS_IDLE_TIMEOUT_MS: "400" } });
  await using c = await openLoggedIn(hub, "admin", admin);
  assert.equal(await c.readLine(), "Error timeout: Idle for more than 400 ms: closing");
  assert.equal(await c.readLine(), undefined);
  assert.equal(hub.hub.listeners.get("tls")!.metrics().idle_closed_total, 1);
  await stillServes(hub);
});

Deno.test("tls - connections beyond the per-address limit are refused with a clear error", async () => {
  await using hub = await startTestHub({ env: { TLS_MAX_CONNECTIONS_PER_IP: "3" } });
  const held = [await openText(hub), await openText(hub), await openText(hub)];
  try {
    await using extra = await openText(hub);
    assert.equal(
      await extra.readToEnd(),
      "Error busy: Too many connections from your address (3): close one first\n",
    );
    for (const c of held) assert.equal(await c.ask("ping"), "pong");
    assert.equal(hub.hub.listeners.get("tls")!.metrics().connections_refused_total, 1);
  } finally {
    for (const c of held) c.close();
  }
});

Deno.test("tls - commands beyond the per-principal rate are refused, counted and audited", async () => {
  await using hub = await startTestHub({ env: { TLS_COMMANDS_PER_SECOND: "5" } });
  await using c = await openLoggedIn(hub, "admin", admin);
  await c.send("garage open\n".repeat(12));
  const replies = await c.readLines(12);
  assert.ok(replies.slice(0, 5).every((r) => r.startsWith("Command 'garage open'")));
  const limited = replies.filter((r) => r.startsWith("Error rate_limited: Too many requests"));
  assert.ok(limited.length >= 6, replies.join("\n"));
  await hub.hub.broker.settled();
  const db = openDatabase(hub.hub.config.paths.database, { readOnly: true });
  try {
    const audited = queryAudit(db, { device: "garage" }).filter((e) => e.code === "rate_limited");
    assert.equal(audited.length, limited.length);
  } finally {
    db.close();
  }
});

Deno.test("tls - a flood of connections and requests from one client leaves the hub serving", async () => {
  await using hub = await startTestHub({ env: { TLS_MAX_CONNECTIONS_PER_IP: "20" } });
  const port = listenerPort(hub.hub, "tls");
  const floods = Array.from({ length: 40 }, async (_, i) => {
    if (i % 2 === 0) {
      const raw = await Deno.connect({ hostname: "127.0.0.1", port });
      await raw.write(new Uint8Array(2048).fill(0x16)).catch(() => 0);
      await readToEof(raw);
      raw.close();
      return;
    }
    try {
      await using c = await openText(hub);
      await c.send("lamp on\n".repeat(500));
      await c.readLines(500);
    } catch {
      // Refused at the limit: expected for some.
    }
  });
  await Promise.all(floods);
  await stillServes(hub);
});

Deno.test("tls - a client that half-closes right after its commands still gets every reply", async () => {
  await using hub = await startTestHub();
  await using c = await openText(hub);
  await c.send(`login admin ${admin}\nlamp toggle\nstatus lamp\n`);
  await c.conn.closeWrite();
  const lines = (await c.readToEnd()).trimEnd().split("\n");
  assert.equal(lines[0], "Logged in as admin");
  assert.match(lines[1]!, /^Command 'lamp toggle' received and executed\. State: lamp power=on/);
  assert.match(lines[2]!, /^Status lamp: power=on/);
  assert.equal(lines.length, 3);
});

Deno.test("tls - a flood of refused lines is audited within a budget and summarised, every refusal counted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tls_flood_audit_" });
  const hub = await startTestHub({ dir, keepDir: true, env: { TLS_COMMANDS_PER_SECOND: "5" } });
  let limited = 0;
  try {
    await using c = await openText(hub);
    await c.send("lamp on\n".repeat(3000));
    const replies = await c.readLines(3000);
    limited = replies.filter((r) => r.startsWith("Error rate_limited")).length;
    assert.ok(limited > 2000, `${limited} refused`);
  } finally {
    await hub.stop();
  }
  const db = openDatabase(join(dir, "data", "hub.db"), { readOnly: true });
  try {
    const entries = queryAudit(db, { limit: 100_000 });
    const single = entries.filter((e) =>
      e.code === "rate_limited" && e.action === "device.command"
    );
    const summaries = entries.filter((e) => e.action === "tls.rejected_summary");
    assert.ok(single.length <= 600, `${single.length} single entries`);
    assert.ok(summaries.length >= 1);
    const summarised = summaries.reduce((n, e) => n + Number(JSON.parse(e.detail!).count), 0);
    assert.equal(single.length + summarised, limited);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls - on shutdown a connection gets the replies to what it sent, then one closing line", async () => {
  const hub = await startTestHub();
  try {
    await using c = await openLoggedIn(hub, "admin", admin);
    const subscribed = await c.ask("subscribe lamp");
    assert.match(subscribed, /^Subscribed to lamp/);
    // Stop as soon as the hub has read the command and handed it to the device actor.
    const { promise: inFlight, resolve } = Promise.withResolvers<void>();
    const stopInspecting = hub.hub.broker.inspect((e) => {
      if (e.kind === "published" && e.message.type === "device.command") resolve();
    });
    await c.send("lamp toggle\n");
    await inFlight;
    stopInspecting();
    const stopping = hub.stop();
    const rest = (await c.readToEnd()).trimEnd().split("\n").filter((l) => !l.startsWith("Event "));
    await stopping;
    assert.deepEqual(rest.length, 2, rest.join("\n"));
    assert.match(rest[0]!, /^Command 'lamp toggle' received and executed\./);
    assert.equal(rest[1], "Error busy: The hub is shutting down");
  } finally {
    await hub.stop();
  }
});
