/**
 * The one command path, end to end over real TLS against a real hub and its
 * database file: a change and its audit entry commit together, in one
 * commit per batch, subscribers see only recorded changes, and a failed
 * commit applies nothing.
 */
import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { openLoggedIn, type TextConnection } from "./helpers/tls_text_client.ts";
import { openDatabase } from "../persistence/database.ts";
import type { Message } from "../broker/messages.ts";

const admin = TEST_SECRETS.token("admin");

function lampRow(db: DatabaseSync): string | undefined {
  const row = db.prepare("SELECT state FROM device_state WHERE id = 'lamp'").get() as
    | { state: string }
    | undefined;
  return row?.state;
}

function okLampEntries(db: DatabaseSync): number {
  const row = db.prepare(
    "SELECT count(*) AS n FROM audit_log WHERE device = 'lamp' AND outcome = 'ok'",
  ).get() as { n: number };
  return row.n;
}

/** Reads pushed `Event lamp: ...` lines until `count` arrived or 5 s pass without a line (then stops reading). */
async function readEvents(c: TextConnection, count: number, onEach: () => void): Promise<string[]> {
  const events: string[] = [];
  while (events.length < count) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = await Promise.race([
      c.readLine(),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 5000))),
    ]);
    clearTimeout(timer);
    if (line === undefined) break;
    if (line.startsWith("Event lamp")) {
      onEach();
      events.push(line);
    }
  }
  return events;
}

Deno.test("command path - a failed commit applies nothing: state, state table and subscribers stay as they were", async () => {
  await using hub = await startTestHub();
  await using commander = await openLoggedIn(hub, "admin", admin);
  await using watcher = await openLoggedIn(hub, "admin", admin);
  assert.equal(await watcher.ask("subscribe lamp"), "Subscribed to lamp");
  const before = await commander.ask("status lamp");

  const db = openDatabase(hub.hub.config.paths.database);
  try {
    const rowBefore = lampRow(db);
    db.exec(`CREATE TABLE fault (x INTEGER);
      CREATE TRIGGER audit_fault BEFORE INSERT ON audit_log WHEN EXISTS (SELECT 1 FROM fault)
      BEGIN SELECT RAISE(ABORT, 'injected audit fault'); END;
      INSERT INTO fault VALUES (1);`);
    const entriesBefore = okLampEntries(db);

    const refused = await commander.ask("lamp brightness 10");
    assert.match(refused, /^Error internal: .*could not be recorded.*nothing was applied/);
    assert.equal(await commander.ask("status lamp"), before);
    assert.equal(lampRow(db), rowBefore);
    assert.equal(okLampEntries(db), entriesBefore);

    db.exec("DELETE FROM fault");
    assert.match(await commander.ask("lamp off"), /^Command .lamp off. received and executed/);
    assert.equal(await commander.ask("status lamp"), "Status lamp: power=off brightness=100");
    assert.notEqual(lampRow(db), rowBefore);
    assert.equal(okLampEntries(db), entriesBefore + 1);
    // The first push is the recorded change: the refused brightness 10 never went out.
    assert.deepEqual(await readEvents(watcher, 1, () => {}), [
      "Event lamp: power=off brightness=100",
    ]);
  } finally {
    db.close();
  }
});

Deno.test("command path - every pushed change is already in the audit log when it arrives", async () => {
  await using hub = await startTestHub();
  await using commander = await openLoggedIn(hub, "admin", admin);
  await using watcher = await openLoggedIn(hub, "admin", admin);
  assert.equal(await watcher.ask("subscribe lamp"), "Subscribed to lamp");
  const db = openDatabase(hub.hub.config.paths.database, { readOnly: true });
  try {
    const start = okLampEntries(db);
    const rounds = 20;
    const lines = Array.from({ length: rounds }, (_, i) => (i % 2 ? "lamp on\n" : "lamp off\n"));
    await commander.send(lines.join(""));
    const recordedAtPush: number[] = [];
    const events = await readEvents(watcher, rounds, () => {
      recordedAtPush.push(okLampEntries(db) - start);
    });
    assert.equal(events.length, rounds);
    recordedAtPush.forEach((recorded, i) => {
      assert.ok(recorded >= i + 1, `push ${i + 1} arrived with only ${recorded} entries recorded`);
    });
    assert.equal(
      (await commander.readLines(rounds)).filter((l) => l.includes("received and executed")).length,
      rounds,
    );
  } finally {
    db.close();
  }
});

Deno.test("command path - a batch of pipelined commands costs one SQLite commit, audit included", async () => {
  await using hub = await startTestHub();
  const connections = await Promise.all(
    Array.from({ length: 4 }, () => openLoggedIn(hub, "admin", admin)),
  );
  await hub.hub.broker.settled();
  const metricsUrl = `http://127.0.0.1:${listenerPort(hub.hub, "http")}/metrics`;
  const commits = async () => {
    const text = await (await fetch(metricsUrl)).text();
    return Number(/^hub_audit_commits_total (\d+)$/m.exec(text)![1]);
  };
  const batches: Message[][] = [];
  const stop = hub.hub.broker.inspect((e) => {
    if (e.kind === "batch" && e.actor === "device") batches.push([...e.messages]);
  });
  const before = await commits();
  const perConnection = 50;
  await Promise.all(connections.map((c, i) =>
    c.send(
      Array.from({ length: perConnection }, (_, j) => `lamp brightness ${(i * 7 + j) % 100}\n`)
        .join(""),
    )
  ));
  for (const c of connections) {
    const replies = await c.readLines(perConnection);
    assert.equal(replies.filter((r) => r.includes("received and executed")).length, perConnection);
  }
  await hub.hub.broker.settled();
  stop();
  const after = await commits();
  const commands = batches.flat().filter((m) => m.type === "device.command").length;
  const commandBatches = batches.filter((b) => b.some((m) => m.type === "device.command")).length;
  assert.equal(commands, 4 * perConnection);
  assert.equal(
    after - before,
    commandBatches,
    "one commit per batch, and no second commit for audit",
  );
  assert.ok(commandBatches < commands, `${commands} commands in ${commandBatches} batches`);
  for (const c of connections) await c[Symbol.asyncDispose]();
});
