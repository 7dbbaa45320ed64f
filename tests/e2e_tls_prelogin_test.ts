/**
 * Issue 15 on the TLS command channel: a login deadline that keep-alives do
 * not extend, a budget of pings before login, a pre-login share of the
 * connection limit (clients that never log in cannot lock out one that
 * does), no secret from an unauthenticated line in the audit log, sensor
 * readings finite and in range, and an ambiguous JSON request refused.
 * Hostile clients connect from 127.0.0.2 / 127.0.0.3; a logged-in client is
 * served afterwards; memory (VmRSS from /proc) stays bounded.
 */
import assert from "node:assert/strict";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { fixtureCa, openLoggedIn, openText } from "./helpers/tls_text_client.ts";
import type { HubFixture } from "./helpers/hub_fixture.ts";
import { SourceClient } from "./helpers/source_client.ts";
import { assertMemoryBound, measureMemory } from "./helpers/memory_bound.ts";
import { openDatabase } from "../persistence/database.ts";
import { queryAudit } from "../persistence/audit_store.ts";
import { UdpClient } from "../client/udp_client.ts";

const admin = TEST_SECRETS.token("admin");

async function stillServes(hub: HubFixture): Promise<void> {
  await using c = await openLoggedIn(hub, "admin", admin);
  assert.match(await c.ask("lamp toggle"), /^Command 'lamp toggle' received and executed\./);
}

function tlsFrom(hub: HubFixture, source: string): Promise<SourceClient> {
  return SourceClient.connectTls(source, listenerPort(hub.hub, "tls"), fixtureCa(hub));
}

Deno.test("tls prelogin - pings keep nothing alive: three answered, the rest refused, closed at the login deadline", async () => {
  await using hub = await startTestHub({ env: { TLS_LOGIN_TIMEOUT_MS: "600" } });
  const { figures } = await measureMemory(async () => {
    await using c = await tlsFrom(hub, "127.0.0.2");
    const replies: string[] = [];
    // Bounded: 200 pings 20 ms apart would take 4 s; the deadline is 600 ms.
    for (let i = 0; i < 200; i++) {
      await c.write("ping\n");
      const line = await c.readLine();
      if (line === undefined) break;
      replies.push(line);
      if (!line.startsWith("pong") && !line.startsWith("Error unauthenticated: Log in first")) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(replies.slice(0, 4), [
      "pong",
      "pong",
      "pong",
      "Error unauthenticated: Log in first: login <principal> <token>",
    ]);
    assert.equal(replies.at(-1), "Error timeout: No login within 600 ms: closing");
    await c.readToEnd();
    assert.ok(c.ended);
  });
  assertMemoryBound(figures, 32, "test process VmRSS");
  const metrics = hub.hub.listeners.get("tls")!.metrics();
  assert.equal(metrics.prelogin_deadline_closed_total, 1);
  assert.ok(metrics.prelogin_pings_refused_total! >= 1);
  await stillServes(hub);
});

Deno.test("tls prelogin - a client that logs in in time is not closed by the deadline", async () => {
  await using hub = await startTestHub({ env: { TLS_LOGIN_TIMEOUT_MS: "300" } });
  await using c = await openLoggedIn(hub, "admin", admin);
  // Well past the deadline (bounded loop, no timing asserted): still served.
  for (let i = 0; i < 10; i++) {
    assert.equal(await c.ask("ping"), "pong");
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
  assert.equal(hub.hub.listeners.get("tls")!.metrics().prelogin_deadline_closed_total, 0);
});

Deno.test("tls prelogin - connections that never log in hold only their share: a valid token still gets in", async () => {
  await using hub = await startTestHub({
    env: {
      TLS_MAX_CONNECTIONS: "12",
      TLS_MAX_CONNECTIONS_PER_IP: "12",
      TLS_PRELOGIN_MAX_CONNECTIONS: "6",
      TLS_PRELOGIN_MAX_CONNECTIONS_PER_IP: "3",
    },
  });
  const idle: SourceClient[] = [];
  const users: Awaited<ReturnType<typeof openLoggedIn>>[] = [];
  try {
    const { figures } = await measureMemory(async () => {
      for (const source of ["127.0.0.2", "127.0.0.3"]) {
        for (let i = 0; i < 3; i++) {
          const c = await tlsFrom(hub, source);
          await c.write("ping\n");
          assert.equal(await c.readLine(), "pong");
          idle.push(c);
        }
      }
      // A fourth from 127.0.0.2 is over its address's share.
      await using fourth = await tlsFrom(hub, "127.0.0.2");
      assert.match(
        await fourth.readToEnd(),
        /^Error busy: Too many connections from your address waiting to log in \(3\)/,
      );
      // Valid tokens fill the whole limit: each newcomer closes the oldest idle connection.
      for (let i = 0; i < 12; i++) users.push(await openLoggedIn(hub, "admin", admin));
      for (const u of users) assert.equal(await u.ask("ping"), "pong");
    });
    assertMemoryBound(figures, 48, "test process VmRSS");
    for (const c of idle) {
      assert.match(
        await c.readToEnd(),
        /Error busy: Too many connections waiting to log in: closing the oldest/,
      );
    }
    const metrics = hub.hub.listeners.get("tls")!.metrics();
    assert.equal(metrics.prelogin_evicted_total, 6);
    assert.equal(metrics.prelogin_refused_total, 1);
    assert.equal(metrics.prelogin_connections, 0);
  } finally {
    for (const c of idle) await c[Symbol.asyncDispose]();
    for (const u of users) u.close();
  }
  // The hub notices the closes on its side: bounded wait until the slots are free.
  for (let i = 0; i < 200 && hub.hub.listeners.get("tls")!.metrics().connections! > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await stillServes(hub);
});

Deno.test("tls prelogin - a mistyped login is audited with its first word only, never the token", async () => {
  for (const auth of ["token", "none"]) {
    await using hub = await startTestHub({ env: { TLS_AUTH: auth } });
    await using c = await tlsFrom(hub, "127.0.0.2");
    const secret = "s3cret-token-value-xyz";
    const { figures } = await measureMemory(async () => {
      for (const line of [`lgin admin ${secret}`, `admin ${secret}`, `lamp ${secret} ${secret}`]) {
        await c.write(`${line}\n`);
        assert.match((await c.readLine())!, /^Error /);
      }
    });
    assertMemoryBound(figures, 32, "test process VmRSS");
    await hub.hub.broker.settled();
    const db = openDatabase(hub.hub.config.paths.database, { readOnly: true });
    try {
      const entries = queryAudit(db, { limit: 1000 });
      const refused = entries.filter((e) => e.outcome === "rejected");
      assert.ok(refused.length >= 3, `${auth}: ${JSON.stringify(entries)}`);
      assert.ok(!JSON.stringify(entries).includes(secret), `${auth}: ${JSON.stringify(entries)}`);
      assert.deepEqual(
        refused.map((e) => e.device).slice(0, 3),
        ["lgin", "admin", "lamp"],
      );
    } finally {
      db.close();
    }
    await stillServes(hub);
  }
});

Deno.test("tls prelogin - sensor readings must be finite and in their metric's range", async () => {
  await using hub = await startTestHub();
  await using c = await openLoggedIn(hub, "admin", admin);
  const { figures } = await measureMemory(async () => {
    for (let round = 0; round < 20; round++) {
      for (const bad of ["NaN", "nan", "Infinity", "-inf", "1e308", "400", "-273.15e3"]) {
        const reply = await c.ask(`hall-sensor report ${bad}`);
        assert.match(reply, /^Error (malformed|out_of_range): /, `${bad}: ${reply}`);
      }
    }
  });
  assertMemoryBound(figures, 32, "test process VmRSS");
  assert.match(await c.ask("hall-sensor report 400"), /must be from -100 to 200/);
  assert.match(await c.ask("status hall-sensor"), /temperature=null|temperature: null|null/);
  assert.match(await c.ask("hall-sensor report 21.5"), /received and executed/);
  assert.match(await c.ask("status hall-sensor"), /21\.5/);
});

Deno.test("tls prelogin - a JSON request with both op and text is refused as ambiguous and runs neither", async () => {
  await using hub = await startTestHub();
  await using c = await openText(hub);
  assert.match(await c.ask(`{"op":"login","principal":"admin","token":"${admin}"}`), /"ok":true/);
  const before = await c.ask('{"op":"status","device":"lamp"}');
  const { figures } = await measureMemory(async () => {
    for (let i = 0; i < 100; i++) {
      const reply = await c.ask(`{"id":${i},"op":"status","device":"lamp","text":"lamp toggle"}`);
      assert.match(reply, new RegExp(`"id":${i}\\b`));
      assert.match(reply, /Ambiguous request: give either \\"op\\" or \\"text\\", not both/);
    }
  });
  assertMemoryBound(figures, 32, "test process VmRSS");
  assert.equal(await c.ask('{"op":"status","device":"lamp"}'), before);
  assert.match(await c.ask('{"text":"lamp toggle"}'), /"ok":true/);
});

Deno.test("udp readings - NaN, 1e308 and a humidity of 400 % are refused over UDP; a sane reading is stored", async () => {
  const home = {
    name: "Humidity test home",
    devices: [{
      id: "bath-humidity",
      type: "sensor" as const,
      name: "Bathroom humidity",
      room: "bath",
      metric: "humidity",
      unit: "%",
    }],
    principals: [{
      id: "bath-humidity",
      kind: "device" as const,
      device: "bath-humidity",
      grants: [{ devices: ["bath-humidity"], actions: ["report"] }],
      channels: ["udp" as const],
    }],
  };
  await using hub = await startTestHub({ home });
  const sensor = UdpClient.open({
    hostname: "127.0.0.1",
    port: listenerPort(hub.hub, "udp"),
    principal: "bath-humidity",
    keyHex: TEST_SECRETS.udpKeyHex("bath-humidity"),
  });
  try {
    const { figures } = await measureMemory(async () => {
      for (const bad of ["NaN", "1e308", "400", "-1", "Infinity"]) {
        const result = await sensor.report("bath-humidity", "humidity", bad);
        assert.ok(!result.ok && result.signed, `${bad}: ${JSON.stringify(result)}`);
        assert.match(result.code ?? "", /^(malformed|out_of_range)$/, `${bad}: ${result.code}`);
      }
    });
    assertMemoryBound(figures, 32, "test process VmRSS");
    const good = await sensor.report("bath-humidity", "humidity", 55.5);
    assert.ok(good.ok, JSON.stringify(good));
    assert.equal(good.text, "bath-humidity humidity=55.5");
  } finally {
    await sensor.closed();
  }
});
