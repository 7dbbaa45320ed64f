/**
 * The storage actor on its own (a real broker, database and folder; no
 * FTP): retention by age and by count, audited; file system errors refused
 * without a crash; the file index with non-BMP folder names.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ActorSystem } from "../actors/actor_system.ts";
import { createMessage } from "../broker/envelope.ts";
import { StorageByteStore } from "../actors/storage_bytes.ts";
import { createStorageActor } from "../actors/storage_actor.ts";
import type { StorageUser } from "../domain/storage_users.ts";
import type { Message, Payloads, RequestType } from "../broker/messages.ts";
import { openDatabase } from "../persistence/database.ts";
import { FileIndexStore } from "../persistence/file_index_store.ts";

function user(principal: string, extra: Partial<StorageUser> = {}): StorageUser {
  return {
    principal,
    home: [principal],
    permissions: new Set(["e", "l", "r", "w", "d"]),
    quotaBytes: 0,
    quotaFiles: 0,
    perDayFolders: false,
    retentionDays: 0,
    retentionFiles: 0,
    device: null,
    ...extra,
  };
}

async function setup(clockMs: { now: number }) {
  const dir = await Deno.makeTempDir({ prefix: "storage_test_" });
  const broker = new ActorSystem({ clock: { now: () => clockMs.now } });
  const audits: Message<"audit.append">[] = [];
  broker.subscribe(["audit.append"], (m) => audits.push(m));
  const bytes = new StorageByteStore();
  await broker.spawn(createStorageActor({
    bytes,
    databasePath: join(dir, "hub.db"),
    sync: "normal",
    root: join(dir, "uploads"),
    users: new Map([
      ["cam", user("cam", { retentionDays: 2 })],
      ["few", user("few", { retentionFiles: 2 })],
    ]),
    maxFileBytes: 0,
  }));
  const ask = async <K extends RequestType>(
    type: K,
    payload: Payloads[K],
    principal: string | null,
  ) => {
    const result = await broker.ask(
      createMessage(type, payload, { principal, channel: "ftp" }, {
        clock: { now: () => clockMs.now },
      }),
      { timeoutMs: 5000 },
    );
    assert.ok(result.ok);
    return result.reply.payload;
  };
  /** Writes an upload's bytes through the storage side's byte interface. */
  const write = async (uploadId: string, text: string) => {
    const opened = await bytes.openUpload(uploadId);
    assert.ok(opened.ok);
    using writer = opened.value;
    assert.equal(writer.write(new TextEncoder().encode(text)), undefined);
    writer.finish();
  };
  const store = async (principal: string, path: string, text: string) => {
    const ticket = await ask("storage.begin_upload", { path, append: false }, principal);
    assert.ok(ticket.ok);
    await write(ticket.value.uploadId, text);
    const stored = await ask(
      "storage.commit_upload",
      { uploadId: ticket.value.uploadId },
      principal,
    );
    assert.ok(stored.ok);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
    );
    const sha = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(stored.value.sha256, sha, "the storage side computed the hash it recorded");
  };
  const partial = (uploadId: string) => join(dir, "uploads", ".hub-partial", `${uploadId}.part`);
  return { dir, broker, audits, ask, store, write, partial };
}

Deno.test("storage actor - retention deletes files older than N days and beyond N files, and audits each", async () => {
  const clock = { now: Date.parse("2025-01-01T00:00:00Z") };
  const s = await setup(clock);
  try {
    await s.store("cam", "/old.jpg", "old");
    clock.now += 3 * 86_400_000;
    await s.store("cam", "/new.jpg", "new");
    for (const name of ["a", "b", "c"]) {
      clock.now += 1000;
      await s.store("few", `/${name}.txt`, name);
    }
    const report = await s.ask("storage.apply_retention", {}, null);
    assert.deepEqual(report, { ok: true, value: { deleted: 2, freedBytes: 4 } });
    const names = (folder: string) =>
      [...Deno.readDirSync(join(s.dir, "uploads", folder))].map((e) => e.name).sort();
    assert.deepEqual(names("cam"), ["new.jpg"]);
    assert.deepEqual(names("few"), ["b.txt", "c.txt"]);
    await s.broker.settled();
    const deleted = s.audits.filter((m) => m.payload.action === "storage.retention_deleted");
    assert.deepEqual(deleted.map((m) => m.payload.detail?.path).sort(), [
      "cam/old.jpg",
      "few/a.txt",
    ]);
  } finally {
    await s.broker.drain();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("storage actor - requests without a storage principal are refused and change nothing", async () => {
  const s = await setup({ now: Date.now() });
  try {
    const anonymous = await s.ask("storage.mkdir", { path: "/x" }, null);
    assert.equal(anonymous.ok, false);
    const stranger = await s.ask("storage.begin_upload", { path: "/x", append: false }, "nobody");
    assert.equal(stranger.ok, false);
    if (!stranger.ok) assert.equal(stranger.error.code, "unauthenticated");
    const unknownUpload = await s.ask("storage.commit_upload", { uploadId: "nope" }, "cam");
    assert.equal(unknownUpload.ok, false);
    assert.deepEqual([...Deno.readDirSync(join(s.dir, "uploads", "cam"))], []);
  } finally {
    await s.broker.drain();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("storage actor - an upload whose name became a folder is refused, the actor keeps running and other uploads survive", async () => {
  const clock = { now: Date.now() };
  const s = await setup(clock);
  try {
    // Another user's upload is in progress meanwhile.
    const other = await s.ask("storage.begin_upload", { path: "/keep.txt", append: false }, "few");
    assert.ok(other.ok);
    await s.write(other.value.uploadId, "kept");
    const ticket = await s.ask("storage.begin_upload", { path: "/a", append: false }, "cam");
    assert.ok(ticket.ok);
    await s.write(ticket.value.uploadId, "data");
    // A folder appears under the same name before the upload finishes (another connection's MKD).
    await Deno.mkdir(join(s.dir, "uploads", "cam", "a"));
    const committed = await s.ask(
      "storage.commit_upload",
      { uploadId: ticket.value.uploadId },
      "cam",
    );
    assert.equal(committed.ok, false);
    assert.ok(!committed.ok && committed.error.code === "exists", JSON.stringify(committed));
    await assert.rejects(Deno.stat(s.partial(ticket.value.uploadId)));
    const [stats] = s.broker.stats();
    assert.equal(stats!.restarts, 0);
    assert.ok(
      (await Deno.stat(s.partial(other.value.uploadId))).isFile,
      "the other upload's data is still there",
    );
  } finally {
    await s.broker.drain();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("file index - renaming or removing a folder with a non-BMP name moves its rows (quota stays true)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "file_index_" });
  const db = openDatabase(join(dir, "hub.db"));
  try {
    const index = new FileIndexStore(db);
    const row = (path: string) => ({
      path,
      owner: "cam",
      size: 10,
      sha256: "0".repeat(64),
      storedAt: "t",
    });
    index.put(row("cam/😀/a.jpg"));
    index.put(row("cam/😀/b.jpg"));
    index.move("cam/😀", "cam/smile");
    assert.deepEqual(index.filesOf("cam").map((r) => r.path), [
      "cam/smile/a.jpg",
      "cam/smile/b.jpg",
    ]);
    index.put(row("cam/🎉/c.jpg"));
    index.remove("cam/🎉", true);
    assert.deepEqual(index.usage("cam"), { bytes: 20, files: 2 });
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file index - usage counters match the files after overwrites, moves over files and removals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "file_usage_" });
  const db = openDatabase(join(dir, "hub.db"));
  try {
    const index = new FileIndexStore(db);
    const row = (path: string, size: number, owner = "cam") => ({
      path,
      owner,
      size,
      sha256: "0".repeat(64),
      storedAt: "t",
    });
    index.put(row("cam/a.jpg", 10));
    index.put(row("cam/a.jpg", 25)); // overwritten: counted once, at its new size
    index.put(row("cam/d/b.jpg", 5));
    index.put(row("cam/e/b.jpg", 7));
    index.move("cam/d", "cam/e"); // replaces cam/e/b.jpg
    index.put(row("user/x.bin", 100, "user"));
    index.move("user/x.bin", "cam/x.bin"); // a rename keeps the owner
    index.remove("cam/a.jpg");
    const truth = (owner: string) =>
      db.prepare(
        "SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS files FROM file_index WHERE owner = ?",
      )
        .get(owner) as { bytes: number; files: number };
    for (const owner of ["cam", "user"]) {
      const t = truth(owner);
      assert.deepEqual(
        index.usage(owner),
        { bytes: Number(t.bytes), files: Number(t.files) },
        owner,
      );
    }
    assert.deepEqual(index.usage("cam"), { bytes: 5, files: 1 });
    assert.deepEqual(index.usage("user"), { bytes: 100, files: 1 });
    assert.deepEqual(index.usage("nobody"), { bytes: 0, files: 0 });
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
