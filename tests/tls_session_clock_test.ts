/**
 * The TLS channel's timers on an injected clock (issue 9): a listener built
 * with a {@linkcode ManualClock} closes an idle unauthenticated connection at
 * the login deadline only once the test clock is advanced past it, whatever
 * real time passes; the idle timeout likewise follows the test clock. Real
 * TLS connections on loopback to a listener sharing a test hub's broker,
 * command path and credential verifier.
 */
import assert from "node:assert/strict";
import { startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import type { HubFixture } from "./helpers/hub_fixture.ts";
import { fixtureCa, TextConnection } from "./helpers/tls_text_client.ts";
import { ManualClock } from "./helpers/manual_clock.ts";
import { startTlsListener } from "../protocols/tls/tls_listener.ts";
import type { Listener } from "../protocols/listener.ts";

const LOGIN_DEADLINE_MS = 50;
const IDLE_MS = 60_000;

/** A TLS listener on the fixture's broker whose timers run on `clock`. */
function clockedListener(fx: HubFixture, clock: ManualClock): Promise<Listener> {
  return startTlsListener(fx.hub.broker, {
    hostname: "127.0.0.1",
    port: 0,
    cert: Deno.readTextFileSync(fx.env.SSL_CERT!),
    key: Deno.readTextFileSync(fx.env.SSL_KEY!),
    auth: "token",
    principals: fx.hub.home().principals,
    verifier: fx.hub.verifier,
    commandPath: fx.hub.commandPath,
    maxLineBytes: 4096,
    handshakeTimeoutMs: 5000,
    idleTimeoutMs: IDLE_MS,
    unterminatedMs: 200,
    maxConnections: 16,
    maxConnectionsPerIp: 16,
    commandsPerSecond: 1000,
    loginTimeoutMs: LOGIN_DEADLINE_MS,
    timers: clock,
  });
}

async function connect(fx: HubFixture, listener: Listener): Promise<TextConnection> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: listener.port,
    caCerts: [fixtureCa(fx)],
  });
  await conn.handshake();
  return new TextConnection(conn);
}

/** Lets the listener's tasks run for a while of real time (nothing is asserted about it). */
function realPause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("tls clock - the login deadline closes an idle connection only once the test clock passes it", async () => {
  await using fx = await startTestHub();
  const clock = new ManualClock();
  const listener = await clockedListener(fx, clock);
  try {
    await using c = await connect(fx, listener);
    // The connection is admitted (its deadline timer is on the test clock) once it answers.
    assert.equal(await c.ask("ping"), "pong");
    // Many times the deadline in real time: a real-time deadline would have closed it.
    await realPause(LOGIN_DEADLINE_MS * 6);
    clock.advance(LOGIN_DEADLINE_MS - 1);
    assert.equal(await c.ask("ping"), "pong", "still open just before the deadline");
    assert.equal(listener.metrics().prelogin_deadline_closed_total, 0);
    clock.advance(2);
    assert.equal(
      await c.readLine(),
      `Error timeout: No login within ${LOGIN_DEADLINE_MS} ms: closing`,
    );
    assert.equal(await c.readToEnd(), "");
    assert.equal(listener.metrics().prelogin_deadline_closed_total, 1);
  } finally {
    await listener.close();
  }
});

Deno.test("tls clock - a logged-in connection is closed as idle only once the test clock passes the idle timeout", async () => {
  await using fx = await startTestHub();
  const clock = new ManualClock();
  const listener = await clockedListener(fx, clock);
  try {
    await using c = await connect(fx, listener);
    assert.equal(await c.ask(`login admin ${TEST_SECRETS.token("admin")}`), "Logged in as admin");
    // Past the login deadline: a logged-in connection is not closed by it.
    clock.advance(IDLE_MS - 1000);
    await realPause(50);
    assert.equal(await c.ask("ping"), "pong");
    clock.advance(IDLE_MS + 1000);
    assert.equal(await c.readLine(), `Error timeout: Idle for more than ${IDLE_MS} ms: closing`);
    assert.equal(listener.metrics().idle_closed_total, 1);
  } finally {
    await listener.close();
  }
});
