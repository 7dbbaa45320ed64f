import assert from "node:assert/strict";
import { join } from "node:path";
import { ActorSystem } from "../actors/actor_system.ts";
import { createAuditActor } from "../actors/audit_actor.ts";
import { createMessage } from "../broker/envelope.ts";
import { openDatabase } from "../persistence/database.ts";
import {
  applyAuditRetention,
  AuditWriter,
  databaseBytesInUse,
  firstSeqAtOrAfter,
  oldestAuditEntry,
  queryAudit,
  verifyAuditChain,
} from "../persistence/audit_store.ts";

const SOURCE = { principal: "tester", channel: "cli" } as const;
const append = (n: number, device = "lamp") =>
  createMessage(
    "audit.append",
    { action: "device.command", device, outcome: "ok", detail: { n } },
    SOURCE,
  );

function entry(n: number, at = new Date().toISOString()) {
  return {
    at,
    messageId: `m${n}`,
    principal: "tester",
    channel: "cli",
    address: null,
    action: "device.command",
    device: n % 2 ? "lamp" : "garage",
    outcome: "ok",
    code: null,
    detail: JSON.stringify({ n }),
  };
}

async function withTempDb<T>(work: (path: string) => Promise<T> | T): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "audit_test_" });
  try {
    return await work(join(dir, "hub.db"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the audit actor replies with a seq only once the entry is committed, in one chain", async () => {
  await withTempDb(async (path) => {
    const broker = new ActorSystem();
    const ref = await broker.spawn(createAuditActor({ databasePath: path, sync: "normal" }));
    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, i) => broker.ask(append(i), { timeoutMs: 5000 })),
    );
    const seqs = replies.map((r) => (r.ok ? r.reply.payload.seq : -1));
    assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i + 1));
    // Another connection sees every acknowledged entry.
    const reader = openDatabase(path, { readOnly: true });
    assert.equal(queryAudit(reader, { limit: 1000 }).length, 300);
    assert.deepEqual(verifyAuditChain(reader), { ok: true, entries: 300, lastSeq: 300 });
    reader.close();
    assert.equal(ref.stats().handled, 300);
    await broker.drain();
  });
});

Deno.test("queued appends are written in groups (group commit), not one transaction each", async () => {
  await withTempDb(async (path) => {
    const broker = new ActorSystem();
    await broker.spawn(createAuditActor({ databasePath: path, sync: "full" }));
    let batches = 0;
    const db = openDatabase(path);
    const before = Number(
      (db.prepare("PRAGMA data_version").get() as { data_version: number }).data_version,
    );
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => broker.ask(append(i), { timeoutMs: 5000 })),
    );
    assert.ok(results.every((r) => r.ok));
    // data_version changes once per commit made by another connection.
    const after = Number(
      (db.prepare("PRAGMA data_version").get() as { data_version: number }).data_version,
    );
    batches = after - before;
    db.close();
    assert.ok(batches >= 1 && batches < 100, `500 appends took ${batches} commits`);
    await broker.drain();
    const reader = openDatabase(path, { readOnly: true });
    assert.equal(verifyAuditChain(reader).ok, true);
    reader.close();
  });
});

Deno.test("verifyAuditChain() names the first altered entry", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    new AuditWriter(db).append(Array.from({ length: 10 }, (_, i) => entry(i)));
    assert.equal(verifyAuditChain(db).ok, true);
    db.exec("DROP TRIGGER audit_log_no_update");
    db.exec(`UPDATE audit_log SET outcome = 'rejected' WHERE seq = 7`);
    const verdict = verifyAuditChain(db);
    assert.equal(verdict.ok, false);
    assert.ok(!verdict.ok);
    assert.equal(verdict.seq, 7);
    assert.match(verdict.reason, /altered/);
    assert.equal(verdict.checked, 6);
    db.close();
  });
});

Deno.test("verifyAuditChain() names a removed entry", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    new AuditWriter(db).append(Array.from({ length: 10 }, (_, i) => entry(i)));
    db.exec("DELETE FROM audit_log WHERE seq = 4");
    const missing = verifyAuditChain(db);
    assert.ok(!missing.ok);
    assert.equal(missing.seq, 4);
    assert.match(missing.reason, /missing/);
    db.close();
  });
});

Deno.test("the audit log refuses UPDATE (append-only)", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    new AuditWriter(db).append([entry(1)]);
    assert.throws(() => db.exec("UPDATE audit_log SET outcome = 'x'"), /append-only/);
    db.close();
  });
});

Deno.test("retention by count and age removes old entries and the chain still verifies", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString();
    const writer = new AuditWriter(db);
    writer.append(Array.from({ length: 5 }, (_, i) => entry(i, old)));
    writer.append(Array.from({ length: 20 }, (_, i) => entry(100 + i)));
    assert.equal(applyAuditRetention(db, { maxAgeDays: 7, maxEntries: 0 }), 5);
    assert.deepEqual(verifyAuditChain(db), { ok: true, entries: 20, lastSeq: 25 });
    assert.equal(applyAuditRetention(db, { maxAgeDays: 0, maxEntries: 8 }), 12);
    assert.deepEqual(verifyAuditChain(db), { ok: true, entries: 8, lastSeq: 25 });
    // Appending after retention continues the same chain.
    new AuditWriter(db).append([entry(999)]);
    assert.deepEqual(verifyAuditChain(db), { ok: true, entries: 9, lastSeq: 26 });
    db.close();
  });
});

Deno.test("queryAudit() filters by device, principal and time", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    new AuditWriter(db).append(Array.from({ length: 10 }, (_, i) => entry(i)));
    assert.equal(queryAudit(db, { device: "lamp" }).length, 5);
    assert.equal(queryAudit(db, { principal: "nobody" }).length, 0);
    assert.equal(queryAudit(db, { since: "2999-01-01" }).length, 0);
    assert.deepEqual(queryAudit(db, { limit: 3 }).map((e) => e.seq), [8, 9, 10]);
    db.close();
  });
});

Deno.test("every acknowledged append survives a SIGKILL of the process, and the chain verifies", async () => {
  await withTempDb(async (path) => {
    const harness = new URL("./helpers/audit_harness.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", harness, path],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const acked: number[] = [];
    const decoder = new TextDecoder();
    let buffered = "";
    const reader = child.stdout.getReader();
    // Kill after a few hundred acknowledgements, mid-stream.
    while (acked.length < 400) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) if (line.startsWith("ack ")) acked.push(Number(line.slice(4)));
    }
    child.kill("SIGKILL");
    await reader.cancel();
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    assert.ok(acked.length >= 400, `got ${acked.length} acknowledgements`);
    const db = openDatabase(path);
    const verdict = verifyAuditChain(db);
    assert.ok(verdict.ok, JSON.stringify(verdict));
    const max = Math.max(...acked);
    assert.ok(verdict.lastSeq >= max, `last seq ${verdict.lastSeq} covers acknowledged ${max}`);
    const present = db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE seq <= ?").get(max) as {
      n: number;
    };
    assert.equal(Number(present.n), max);
    db.close();
  });
});

Deno.test("verifyAuditChain() detects that the newest entries were deleted (a truncated log)", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    new AuditWriter(db).append(Array.from({ length: 10 }, (_, i) => entry(i)));
    assert.equal(verifyAuditChain(db).ok, true);
    db.exec("DELETE FROM audit_log WHERE seq > 7");
    const truncated = verifyAuditChain(db);
    assert.ok(!truncated.ok);
    assert.equal(truncated.seq, 8);
    assert.match(truncated.reason, /entries 8 to 10 are missing: the newest entries were deleted/);
    db.close();
  });
});

Deno.test("the head record is written with the entries: a reopened writer continues and verifies", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    new AuditWriter(db).append([entry(1), entry(2)]);
    new AuditWriter(db).append([entry(3)]);
    const verdict = verifyAuditChain(db);
    assert.deepEqual(verdict, { ok: true, entries: 3, lastSeq: 3 });
    db.close();
  });
});

Deno.test("audit retention by size keeps the newest entries under the cap, and the chain still verifies", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    const writer = new AuditWriter(db);
    for (let batch = 0; batch < 20; batch++) {
      writer.append(Array.from({ length: 500 }, (_, i) => ({
        ...entry(batch * 500 + i),
        detail: JSON.stringify({ padding: "x".repeat(400) }),
      })));
    }
    const before = databaseBytesInUse(db);
    const cap = Math.floor(before / 2);
    const removed = applyAuditRetention(db, { maxAgeDays: 0, maxEntries: 0, maxBytes: cap });
    assert.ok(removed > 4000 && removed < 10_000, `removed ${removed}`);
    const verdict = verifyAuditChain(db);
    assert.ok(verdict.ok);
    assert.equal(verdict.lastSeq, 10_000);
    // Freed pages are reused: the entries kept fit in the cap.
    const kept = verdict.entries;
    assert.ok(kept * (before / 10_000) <= cap, `kept ${kept} entries`);
    db.close();
  });
});

Deno.test("audit retention by age deletes only entries older than the limit", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    const now = Date.parse("2026-12-01T00:00:00Z");
    const old = new Date(now - 400 * 86_400_000).toISOString();
    const recent = new Date(now - 10 * 86_400_000).toISOString();
    new AuditWriter(db).append([
      { ...entry(1), at: old },
      { ...entry(2), at: old },
      { ...entry(3), at: recent },
    ]);
    assert.equal(applyAuditRetention(db, { maxAgeDays: 365, maxEntries: 0 }, now), 2);
    assert.equal(oldestAuditEntry(db), recent);
    assert.ok(verifyAuditChain(db).ok);
    db.close();
  });
});

Deno.test("time ranges are found by seq without an index on at, exactly at every boundary", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    // A log made by an earlier release, which had an index on at: opening a writer drops it.
    new AuditWriter(db);
    db.exec("CREATE INDEX audit_log_at ON audit_log (at)");
    const minute = (m: number) => new Date(Date.UTC(2026, 11, 1, 0, m)).toISOString();
    const writer = new AuditWriter(db);
    // 37 entries, two per minute: at rises with seq, with ties.
    writer.append(Array.from({ length: 37 }, (_, i) => entry(i, minute(Math.floor(i / 2)))));
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all()
      .map((r) => String(r.name));
    assert.ok(!indexes.includes("audit_log_at"), `indexes: ${indexes.join(", ")}`);
    assert.equal(firstSeqAtOrAfter(db, minute(0)), 1);
    assert.equal(firstSeqAtOrAfter(db, minute(5)), 11);
    assert.equal(firstSeqAtOrAfter(db, "2026-12-01T00:05:30.000Z"), 13);
    assert.equal(firstSeqAtOrAfter(db, minute(99)), 38);
    assert.equal(firstSeqAtOrAfter(db, "2000-01-01"), 1);
    for (const [since, until] of [[3, 7], [0, 1], [17, 18], [18, 40], [5, 5]] as const) {
      const got = queryAudit(db, { since: minute(since), until: minute(until), limit: 1000 })
        .map((e) => e.seq);
      const want = Array.from({ length: 37 }, (_, i) => i + 1)
        .filter((seq) => {
          const m = Math.floor((seq - 1) / 2);
          return m >= since && m < until;
        });
      assert.deepEqual(got, want, `since ${since} until ${until}`);
    }
    // Retention after deleting the start: the search starts at the oldest kept entry.
    assert.equal(applyAuditRetention(db, { maxAgeDays: 0, maxEntries: 30 }), 7);
    assert.equal(firstSeqAtOrAfter(db, minute(0)), 8);
    assert.equal(firstSeqAtOrAfter(db, minute(10)), 21);
    db.close();
  });
});
