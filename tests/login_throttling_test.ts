import assert from "node:assert/strict";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { AddressedConnection } from "./helpers/tls_from_address.ts";
import { fixtureCa, openText } from "./helpers/tls_text_client.ts";
import { type FtpStepResult, runFtpClient } from "./helpers/ftp_clients.ts";

const encoder = new TextEncoder();
/** Records a figure in the test output (never asserted as a timing). */
function note(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

const WRONG = /^Error (unauthenticated|rate_limited):/;

Deno.test("tls login - 1 000 wrong tokens from 127.0.0.2 do not stop a correct login from 127.0.0.1", async () => {
  // A generous per-address allowance, so that the hash work itself is what the flood competes
  // for: the share of one address must still leave room for the others.
  await using hub = await startTestHub({
    env: { TLS_MAX_CONNECTIONS_PER_IP: "64", TLS_LOGINS_PER_SECOND: "1000" },
  });
  const port = listenerPort(hub.hub, "tls");
  const ca = fixtureCa(hub);
  const tls = hub.hub.listeners.get("tls")!;
  const refusedSoFar = () => {
    const m = tls.metrics();
    return (m.login_failures_total ?? 0) + (m['rejected_total{reason="rate_limited"}'] ?? 0);
  };
  // 200 connections from 127.0.0.2, 32 at a time, each pipelining 5 wrong logins: 1 000 tokens.
  const floodReplies: string[] = [];
  let sent = 0;
  const flood = async () => {
    while (sent < 1000) {
      sent += 5;
      const c = await AddressedConnection.open("127.0.0.2", port, ca);
      c.send(Array.from({ length: 5 }, (_, i) => `login admin wrong-${sent}-${i}\n`).join(""));
      floodReplies.push(...await c.readLines(5));
      await c.close();
    }
  };
  const flooding = Promise.all(Array.from({ length: 32 }, flood));
  // The flood is under way (more than the hub's old hub-wide burst of 10 is refused) ...
  for (let i = 0; i < 2000 && refusedSoFar() < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(refusedSoFar() >= 50, "the flood reached the hub");
  assert.ok(sent < 1000, "the flood is still running when the correct login is sent");
  // ... when a correct, never cached login comes from another address.
  const started = performance.now();
  await using good = await AddressedConnection.open("127.0.0.1", port, ca);
  const connected = performance.now();
  const reply = await good.ask(`login admin ${TEST_SECRETS.token("admin")}`);
  const ms = performance.now() - started;
  const loginMs = performance.now() - connected;
  await flooding;
  assert.equal(reply, "Logged in as admin");
  assert.ok(ms < 2000, `the correct login took ${ms.toFixed(0)} ms`);
  note(
    `correct login during the flood: ${ms.toFixed(1)} ms with its TLS connect, ` +
      `${loginMs.toFixed(1)} ms from the login line to its reply`,
  );
  const limited = floodReplies.filter((line) => line.startsWith("Error rate_limited")).length;
  note(`flood: ${floodReplies.length - limited} wrong, ${limited} rate limited`);
  assert.ok(floodReplies.length >= 990, `${floodReplies.length} flood replies`);
  assert.ok(floodReplies.every((line) => WRONG.test(line)), "no wrong token logged in");
});

Deno.test("tls login - the event loop keeps turning while 50 wrong logins are hashed", async () => {
  await using hub = await startTestHub({ env: { TLS_MAX_CONNECTIONS_PER_IP: "64" } });
  const port = listenerPort(hub.hub, "tls");
  const ca = fixtureCa(hub);
  // Three addresses (the test task allows 127.0.0.1 to .3), so that several hashes run.
  const clients = await Promise.all(
    Array.from(
      { length: 50 },
      (_, i) => AddressedConnection.open(`127.0.0.${1 + (i % 3)}`, port, ca),
    ),
  );
  let ticks = 0;
  let ticksWhileHashing = 0;
  const timer = setInterval(() => {
    ticks++;
    if (hub.hub.verifier.hashLoad.running > 0) ticksWhileHashing++;
  }, 2);
  try {
    const replies = await Promise.all(clients.map((c, i) => c.ask(`login admin wrong-${i}`)));
    assert.ok(replies.every((line) => WRONG.test(line)), replies.join("\n"));
    assert.ok(replies.filter((line) => line.startsWith("Error unauthenticated")).length >= 6);
  } finally {
    clearInterval(timer);
    await Promise.all(clients.map((c) => c.close()));
  }
  note(`${ticks} timer ticks, ${ticksWhileHashing} of them while a hash was running`);
  // A blocking hash would hold the thread: no timer could fire while one runs.
  assert.ok(ticksWhileHashing >= 3, `${ticksWhileHashing} ticks while hashing`);
});

Deno.test("tls login - a command pipelined behind its login sees the login", async () => {
  await using hub = await startTestHub();
  await using c = await openText(hub);
  await c.send(`login admin ${TEST_SECRETS.token("admin")}\nstatus lamp\n`);
  const [login, status] = await c.readLines(2);
  assert.equal(login, "Logged in as admin");
  assert.match(status ?? "", /^Status lamp: /);
});

Deno.test("tls login - concurrent correct logins share one check and all succeed", async () => {
  await using hub = await startTestHub({ env: { TLS_MAX_CONNECTIONS_PER_IP: "64" } });
  const port = listenerPort(hub.hub, "tls");
  const ca = fixtureCa(hub);
  const clients = await Promise.all(
    Array.from({ length: 20 }, () => AddressedConnection.open("127.0.0.3", port, ca)),
  );
  try {
    const replies = await Promise.all(
      clients.map((c) => c.ask(`login admin ${TEST_SECRETS.token("admin")}`)),
    );
    assert.deepEqual(new Set(replies), new Set(["Logged in as admin"]));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

Deno.test("tls login - /metrics shows the hash work refused beyond one address's share", async () => {
  await using hub = await startTestHub({ env: { TLS_LOGINS_PER_SECOND: "1000" } });
  const port = listenerPort(hub.hub, "tls");
  const ca = fixtureCa(hub);
  const clients = await Promise.all(
    Array.from({ length: 12 }, () => AddressedConnection.open("127.0.0.2", port, ca)),
  );
  try {
    const replies = await Promise.all(clients.map((c, i) => c.ask(`login admin wrong-${i}`)));
    const limited = replies.filter((line) => line.startsWith("Error rate_limited")).length;
    assert.ok(limited >= 1, replies.join("\n"));
    const http = listenerPort(hub.hub, "http");
    const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    const refused = Number(text.match(/^hub_auth_hashes_refused_total (\d+)$/m)?.[1]);
    assert.equal(refused, limited);
    assert.match(text, /^hub_auth_hashes_running 0$/m);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

Deno.test("ftp login - wrong passwords ban 127.0.0.2, while a correct login from 127.0.0.1 succeeds", async () => {
  await using hub = await startTestHub({
    env: { FTP_LOGIN_FAILURE_DELAY_MS: "100", FTP_MAX_LOGIN_FAILURES: "5" },
  });
  const port = listenerPort(hub.hub, "ftp");
  const user = "porch-camera";
  const login = (source: string, password: string): Promise<FtpStepResult[]> =>
    runFtpClient(port, [
      { op: "connect", tls: true, source },
      { op: "login", user, password },
    ]);
  // ftp-srv takes one USER per connection: one wrong password per connection, three at a time.
  const flood = Promise.all(
    [0, 1, 2].map(async (w) => {
      const results: FtpStepResult[] = [];
      for (let i = 0; i < 3; i++) results.push(...await login("127.0.0.2", `bad-${w}-${i}`));
      return results;
    }),
  );
  const good = await login("127.0.0.1", TEST_SECRETS.password(user));
  const floodCodes = (await flood).flat().map((r) => r.code);
  assert.equal(good[1]?.code, 230, JSON.stringify(good));
  assert.ok(!floodCodes.includes(230), JSON.stringify(floodCodes));
  // The flooding address is banned now, even with the right password; the other is not.
  const banned = await login("127.0.0.2", TEST_SECRETS.password(user));
  assert.ok(banned.every((r) => r.code !== 230), JSON.stringify(banned));
  const again = await login("127.0.0.1", TEST_SECRETS.password(user));
  assert.equal(again[1]?.code, 230, JSON.stringify(again));
});
