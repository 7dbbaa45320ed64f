/**
 * Device state survives a restart; an acknowledged command survives SIGKILL.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  REPO_ROOT,
  seedCredentials,
  startTestHub,
  TEST_SECRETS,
  testEnv,
} from "./helpers/hub_fixture.ts";
import { openLoggedIn, TextConnection } from "./helpers/tls_text_client.ts";
import { loadConfig } from "../config/config.ts";
import { openDatabase } from "../persistence/database.ts";
import { queryAudit, verifyAuditChain } from "../persistence/audit_store.ts";

const admin = TEST_SECRETS.token("admin");

Deno.test("tls - device state survives a restart of the hub", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hub_restart_" });
  try {
    {
      await using hub = await startTestHub({ dir, keepDir: true });
      await using c = await openLoggedIn(hub, "admin", admin);
      assert.match(await c.ask("lamp brightness 33"), /executed/);
      assert.match(await c.ask("front-door unlock"), /executed/);
      assert.match(await c.ask("thermostat mode cool"), /executed/);
    }
    await using again = await startTestHub({ dir, keepDir: true });
    await using c = await openLoggedIn(again, "admin", admin);
    assert.equal(await c.ask("status lamp"), "Status lamp: power=on brightness=33");
    assert.equal(await c.ask("status front-door"), "Status front-door: locked=false");
    assert.equal(await c.ask("status thermostat"), "Status thermostat: target=20 mode=cool");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls - every acknowledged command is in the verified audit log after SIGKILL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hub_sigkill_" });
  const env = testEnv(dir, { LOG_LEVEL: "info", TLS_COMMANDS_PER_SECOND: "100000" });
  const loaded = loadConfig(env, dir);
  if (!loaded.ok) throw loaded.error;
  seedCredentials(loaded.value.paths.database, loaded.value.home);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(REPO_ROOT, "main.ts")],
    cwd: dir,
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let killed = false;
  try {
    // The hub logs "tls listening on 127.0.0.1:<port>" once it is up.
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let log = "";
    let port = 0;
    while (port === 0) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`Hub exited before listening:\n${log}`);
      log += value;
      const match = log.match(/tls listening on 127\.0\.0\.1:(\d+)/);
      if (match) port = Number(match[1]);
    }
    void reader.cancel();
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [Deno.readTextFileSync(env.SSL_CERT!)],
    });
    const c = new TextConnection(conn);
    assert.equal(await c.ask(`login admin ${admin}`), "Logged in as admin");
    await c.send(Array.from({ length: 400 }, (_, i) => `garage position ${i % 101}\n`).join(""));
    const acknowledged: string[] = [];
    for (let i = 0; i < 150; i++) {
      const line = await c.readLine();
      if (line?.startsWith("Command '")) acknowledged.push(line.split("'")[1]!);
    }
    child.kill("SIGKILL");
    killed = true;
    await child.status;
    c.close();
    assert.equal(acknowledged.length, 150);

    const db = openDatabase(loaded.value.paths.database);
    try {
      const verdict = verifyAuditChain(db);
      assert.ok(verdict.ok, JSON.stringify(verdict));
      const recorded = queryAudit(db, { device: "garage", limit: 1000 })
        .filter((e) => e.outcome === "ok")
        .map((e) => JSON.parse(e.detail!).command as string);
      assert.ok(recorded.length >= acknowledged.length);
      assert.deepEqual(recorded.slice(0, acknowledged.length), acknowledged);
    } finally {
      db.close();
    }
  } finally {
    if (!killed) {
      child.kill("SIGKILL");
      await child.status;
    }
    await child.stderr.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
