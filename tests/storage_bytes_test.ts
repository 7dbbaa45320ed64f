/** The storage side's byte interface: limits, hashes, a remade folder, and no paths in refusals. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { StorageByteStore } from "../actors/storage_bytes.ts";

Deno.test("an upload is hashed and sized by the storage side, and its limit is enforced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bytes_test_" });
  try {
    const store = new StorageByteStore();
    store.registerUpload("u1", { tempPath: join(dir, "gone", "u1.part"), offset: 0, maxBytes: 8 });
    const opened = await store.openUpload("u1");
    assert.ok(opened.ok, "a removed temporary folder is made again");
    using writer = opened.value;
    assert.equal(writer.write(new TextEncoder().encode("12345")), undefined);
    assert.equal(writer.write(new TextEncoder().encode("6789"))?.reason, "too_large");
    assert.equal(writer.finish(), 5);
    const expected = createHash("sha256").update("12345").digest("hex");
    assert.deepEqual(store.resultOf("u1"), { size: 5, sha256: expected });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a temporary file that cannot be opened is a refusal that names no server path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bytes_test_" });
  try {
    const blocker = join(dir, "a-file");
    await Deno.writeTextFile(blocker, "not a folder");
    const store = new StorageByteStore();
    store.registerUpload("u2", { tempPath: join(blocker, "u2.part"), offset: 0, maxBytes: 0 });
    const opened = await store.openUpload("u2");
    assert.ok(!opened.ok);
    assert.equal(opened.error.code, "internal");
    assert.ok(!opened.error.message.includes(dir), opened.error.message);
    const unknown = await store.openRead("no-such-ticket", 0);
    assert.ok(!unknown.ok);
    assert.equal(unknown.error.code, "not_found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
