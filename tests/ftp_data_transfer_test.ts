/**
 * How an upload's bytes reach the storage writer over a real TLS data
 * connection: reads (one TLS record, at most 16 KiB, each) are gathered and
 * written in large chunks, every byte arrives in order, and a refusal from
 * the writer still ends the receive.
 */
import assert from "node:assert/strict";
import { generateDevCertificate } from "../certs/dev_certificate.ts";
import {
  closeQuietly,
  FLUSH_ROOM_BYTES,
  receiveInto,
  TRANSFER_BUFFER_BYTES,
} from "../protocols/ftp/ftp_data_transfer.ts";
import type { UploadWriter, WriteRefusal } from "../domain/storage_bytes.ts";

/** A writer that keeps what it was given, refusing past `limit` bytes. */
class RecordingWriter implements UploadWriter {
  readonly chunks: Uint8Array[] = [];
  #bytes = 0;
  constructor(readonly limit = Infinity) {}
  write(chunk: Uint8Array): WriteRefusal | undefined {
    if (this.#bytes + chunk.length > this.limit) {
      return { reason: "too_large", message: "over the test's limit" };
    }
    this.chunks.push(chunk.slice());
    this.#bytes += chunk.length;
    return undefined;
  }
  finish(): number {
    return this.#bytes;
  }
  [Symbol.dispose](): void {}
}

/** Sends `data` over a real TLS connection in 16 KiB writes; receives it with receiveInto. */
async function uploadOverTls(data: Uint8Array, writer: RecordingWriter) {
  const pem = await generateDevCertificate("localhost");
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: pem.cert, key: pem.key });
  const sending = (async () => {
    const client = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      caCerts: [pem.cert],
    });
    try {
      for (let i = 0; i < data.length; i += 16 * 1024) {
        const piece = data.subarray(i, i + 16 * 1024);
        let offset = 0;
        while (offset < piece.length) offset += await client.write(piece.subarray(offset));
      }
      await client.closeWrite();
    } catch {
      /* the server may close first when it refuses */
    } finally {
      try {
        client.close();
      } catch { /* closed already */ }
    }
  })();
  const conn = await listener.accept();
  listener.close();
  const result = await receiveInto(conn, writer, { idleTimeoutMs: 5000, stillWanted: () => true });
  closeQuietly(conn); // the data channel closes it when the receive was refused
  await sending;
  return result;
}

function randomBytes(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  return data;
}

Deno.test("ftp data - TLS records are gathered into large writes, every byte in order", async () => {
  const data = randomBytes(3 * 1024 * 1024 + 123);
  const writer = new RecordingWriter();
  const result = await uploadOverTls(data, writer);
  assert.deepEqual(result, { ok: true, bytes: data.length });
  const joined = new Uint8Array(data.length);
  let at = 0;
  for (const chunk of writer.chunks) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  assert.equal(at, data.length);
  assert.ok(joined.every((byte, i) => byte === data[i]), "the bytes written are the bytes sent");
  // 16 KiB records one write each would be 193 writes; gathered, all but the last fill most
  // of the 256 KiB buffer.
  assert.ok(writer.chunks.length <= 16, `${writer.chunks.length} writes for 3 MiB`);
  for (const chunk of writer.chunks.slice(0, -1)) {
    assert.ok(
      chunk.length >= TRANSFER_BUFFER_BYTES - FLUSH_ROOM_BYTES,
      `a chunk of ${chunk.length}`,
    );
  }
});

Deno.test("ftp data - a writer's refusal ends the receive with its reason", async () => {
  const writer = new RecordingWriter(512 * 1024);
  const result = await uploadOverTls(randomBytes(2 * 1024 * 1024), writer);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.reason, "too_large");
  assert.ok(writer.finish() <= 512 * 1024);
});

Deno.test("ftp data - an upload smaller than one record is written once at the end", async () => {
  const writer = new RecordingWriter();
  const result = await uploadOverTls(new TextEncoder().encode("snapshot"), writer);
  assert.deepEqual(result, { ok: true, bytes: 8 });
  assert.equal(writer.chunks.length, 1);
});
