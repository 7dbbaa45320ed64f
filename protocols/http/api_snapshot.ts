/**
 * `GET /api/cameras/{id}/snapshot`: the camera's latest stored image. The
 * client names only the camera; the device actor says whether the caller
 * may see it, and the storage actor picks the file (the newest the camera
 * stored, confined to its home after symlinks) and hands back where to read
 * it, and the body streams through the storage side's byte interface
 * (a read ticket; never a path), never buffered whole.
 *
 * @module
 */
import type { Hono } from "hono";
import { createMessage } from "../../broker/envelope.ts";
import { refusalFor } from "../../broker/errors.ts";
import { DEVICE_ID } from "./api_devices.ts";
import { errorResponse } from "./http_errors.ts";
import type { HttpGate } from "./http_gate.ts";
import type { HttpDeps, HttpEnv } from "./http_context.ts";
import type { FileReader } from "../../domain/storage_bytes.ts";

const TYPES: Readonly<Record<string, string>> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
};

/** Registers the snapshot route on `app` (behind the gate). */
export function snapshotRoutes(app: Hono<HttpEnv>, deps: HttpDeps, gate: HttpGate): void {
  app.get("/api/cameras/:id/snapshot", async (c) => {
    const caller = c.get("caller");
    const id = c.req.param("id");
    if (!DEVICE_ID.test(id)) {
      return gate.refuse(c, caller.principal.id, {
        code: "malformed",
        message: "A camera id is 1-48 characters of a-z, 0-9, '-' or '_'",
      }, "malformed_id");
    }
    const seen = await deps.commandPath.run(caller.source, "device.query", { device: id });
    if (!seen.ok) return gate.refuse(c, caller.principal.id, seen.error, seen.error.code);
    if (seen.value[0]?.type !== "camera") {
      return gate.refuse(c, caller.principal.id, {
        code: "not_found",
        message: `${id} is not a camera`,
      }, "not_a_camera");
    }
    const asked = await deps.broker.ask(
      createMessage("storage.open_snapshot", { device: id }, caller.source),
      { timeoutMs: deps.askTimeoutMs, waitForRoom: true },
    );
    if (!asked.ok) return errorResponse(refusalFor(asked.failure));
    const ticket = asked.reply.payload;
    if (!ticket.ok) return errorResponse(ticket.error);
    const opened = await deps.bytes.openRead(ticket.value.readId, 0);
    // Deleted between the storage actor's answer and now (retention).
    if (!opened.ok) return errorResponse({ code: "not_found", message: `No snapshot of ${id}` });
    const extension = ticket.value.path.split(".").pop()?.toLowerCase() ?? "";
    return new Response(readableOf(opened.value), {
      headers: {
        "content-type": TYPES[extension] ?? "application/octet-stream",
        "content-length": String(ticket.value.size),
        "cache-control": "private, no-cache",
        etag: `"${ticket.value.sha256}"`,
        "last-modified": new Date(ticket.value.storedAt).toUTCString(),
        "x-snapshot-at": ticket.value.storedAt,
        "x-content-type-options": "nosniff",
      },
    });
  });
}

/** The bytes of a storage reader as a stream; the reader is closed at the end or on cancel. */
function readableOf(reader: FileReader): ReadableStream<Uint8Array> {
  let closed = false;
  const close = () => {
    if (!closed) (closed = true, reader[Symbol.dispose]());
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(64 * 1024);
      try {
        const n = await reader.read(buffer);
        if (n === null) {
          close();
          controller.close();
        } else controller.enqueue(buffer.subarray(0, n));
      } catch (error) {
        close();
        controller.error(error);
      }
    },
    cancel: close,
  });
}
