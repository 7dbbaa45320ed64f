/**
 * Failures that used to vanish are now logged (and, where it fits, counted):
 * a throwing TLS request handler, ftp-srv's errors, a corrupt device-state
 * row, a reload whose audit entry is not recorded, a listener whose figures
 * cannot be read.
 */
import assert from "node:assert/strict";
import { startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { openText } from "./helpers/tls_text_client.ts";
import { captureLogs } from "./helpers/log_capture.ts";
import { openDatabase } from "../persistence/database.ts";
import { bunyanAdapter } from "../protocols/ftp/ftp_server.ts";
import { getLogger } from "../observability/logger.ts";
import { renderMetrics } from "../observability/hub_metrics.ts";
import type { Listener } from "../protocols/listener.ts";

Deno.test("tls - a request whose handler throws is answered Internal error and logged without the token", async () => {
  await using logs = await captureLogs();
  await using hub = await startTestHub();
  // A real fault under the handler: the credentials table is gone.
  const db = openDatabase(hub.hub.config.paths.database);
  db.exec("DROP TABLE credentials");
  db.close();
  await using c = await openText(hub);
  const token = TEST_SECRETS.token("admin");
  assert.equal(await c.ask(`login admin ${token}`), "Error internal: Internal error");
  assert.equal(await c.ask("ping"), "pong", "the connection goes on");
  const failures = logs.lines().filter((l) => l.includes("TLS request handler failed"));
  assert.equal(failures.length, 1, logs.lines().join("\n"));
  assert.match(failures[0]!, /^error .*login.*no such table: credentials/);
  assert.ok(logs.lines().every((l) => !l.includes(token)), "the token is never logged");
  assert.equal(hub.hub.listeners.get("tls")!.metrics().handler_errors_total, 1);
});

Deno.test("ftp-srv errors and warnings keep their level; chatter and client resets do not", async () => {
  await using logs = await captureLogs();
  const adapter = bunyanAdapter(getLogger("ftp")) as Record<string, (...args: unknown[]) => void>;
  adapter.error!(new Error("EACCES: permission denied"), "Error in STOR");
  adapter.warn!("Passive port range exhausted");
  adapter.fatal!("Server crashed");
  adapter.error!(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "Client");
  adapter.info!("PASS hunter2");
  const lines = logs.lines();
  assert.deepEqual(lines, [
    "error ftp-srv: EACCES: permission denied Error in STOR",
    "warning ftp-srv: Passive port range exhausted",
    "error ftp-srv: Server crashed",
    "info ftp-srv: read ECONNRESET Client",
    "debug ftp-srv: PASS ***",
  ]);
});

Deno.test("a corrupt device-state row is reset with a warning that names the device", async () => {
  const first = await startTestHub({ keepDir: true });
  const { dir } = first;
  const databasePath = first.hub.config.paths.database;
  await first.stop();
  const db = openDatabase(databasePath);
  db.prepare(
    "INSERT INTO device_state (id, type, state, updated_at) VALUES ('lamp', 'light', '{oops', NULL) " +
      "ON CONFLICT (id) DO UPDATE SET state = excluded.state",
  ).run();
  db.close();
  await using logs = await captureLogs();
  await using hub = await startTestHub({ dir });
  await using c = await openText(hub);
  assert.equal(await c.ask(`login admin ${TEST_SECRETS.token("admin")}`), "Logged in as admin");
  assert.match(await c.ask("status lamp"), /^Status lamp: .*power=off/);
  const warnings = logs.lines().filter((l) => l.startsWith("warning") && l.includes("lamp"));
  assert.equal(warnings.length, 1, logs.lines().join("\n"));
  assert.match(warnings[0]!, /reset to its initial state/);
});

Deno.test("a reload whose audit entry cannot be recorded says so in its report and the log", async () => {
  await using logs = await captureLogs();
  await using hub = await startTestHub();
  const db = openDatabase(hub.hub.config.paths.database);
  db.exec(`CREATE TRIGGER refuse_reload BEFORE INSERT ON audit_log
    WHEN NEW.action = 'hub.reload' BEGIN SELECT RAISE(ABORT, 'disk says no'); END`);
  try {
    const report = await hub.hub.reload();
    assert.ok(report.ok);
    assert.ok(
      report.warnings.some((w) => w.startsWith("audit: the reload was not recorded")),
      JSON.stringify(report.warnings),
    );
    const errors = logs.lines().filter((l) => l.includes("its audit entry was not recorded"));
    assert.equal(errors.length, 1, logs.lines().join("\n"));
    assert.match(errors[0]!, /^error /);
  } finally {
    db.exec("DROP TRIGGER refuse_reload");
    db.close();
  }
});

Deno.test("metrics - a listener whose figures throw keeps its last series and counts a scrape error", async () => {
  await using logs = await captureLogs();
  let broken = false;
  const listener: Listener = {
    name: "probe",
    hostname: "127.0.0.1",
    port: 1,
    listening: true,
    metrics: () => {
      if (broken) throw new Error("counter store unavailable");
      return { commands_total: 3 };
    },
    close: () => Promise.resolve(),
  };
  const sources = { actorStats: () => [], listeners: new Map([["probe", listener]]) };
  const before = renderMetrics(sources);
  assert.match(before, /^hub_probe_commands_total 3$/m);
  assert.match(before, /^hub_listener_scrape_errors_total\{listener="probe"\} 0$/m);
  broken = true;
  const after = renderMetrics(sources);
  assert.match(after, /^hub_probe_commands_total 3$/m, "the series is still there");
  assert.match(after, /^hub_listener_scrape_errors_total\{listener="probe"\} 1$/m);
  assert.match(after, /^hub_listener_up\{listener="probe"\} 1$/m);
  assert.ok(logs.lines().some((l) => /^error .*probe.*counter store unavailable/.test(l)));
});
