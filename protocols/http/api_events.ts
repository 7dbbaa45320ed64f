/**
 * `GET /api/events`: Server-Sent Events of state changes, filtered by the
 * caller's grants (read again at each event, so a SIGHUP applies at once).
 * The stream opens with `event: snapshot` (every visible device), unless the
 * client sent `Last-Event-ID` (or `?lastEventId=`) that the ring still holds:
 * then it gets exactly the events it missed. A client that reads too slowly
 * is cut off (it reconnects and resumes); a comment line every 15 s keeps
 * proxies from closing an idle stream.
 *
 * @module
 */
import type { Hono } from "hono";
import { listDevices } from "./api_devices.ts";
import type { EventLog, HubEvent } from "./event_log.ts";
import type { HttpGate } from "./http_gate.ts";
import { canSee, type HttpDeps, type HttpEnv } from "./http_context.ts";
import type { StreamRegistry } from "./stream_registry.ts";

/** Bytes a client may leave unread before it is cut off. */
export const SSE_MAX_BACKLOG = 256 * 1024;
const HEARTBEAT_MS = 15_000;

/** What the event routes need besides the deps. */
export interface EventRouteParts {
  readonly events: EventLog;
  readonly streams: StreamRegistry;
  /** Counts streams cut off for reading too slowly. */
  readonly onSlow: () => void;
}

/** Registers `GET /api/events` on `app` (behind the gate). */
export function eventRoutes(
  app: Hono<HttpEnv>,
  deps: HttpDeps,
  gate: HttpGate,
  parts: EventRouteParts,
): void {
  app.get("/api/events", async (c) => {
    const caller = c.get("caller");
    // The request's connection slot stays taken while the stream is open.
    const slot = { release: c.env.keepSlot() };
    const lastId = c.req.header("last-event-id") ?? c.req.query("lastEventId") ?? "";
    const missed = lastId === "" ? undefined : parts.events.since(lastId);
    let first = "retry: 2000\n\n";
    if (missed === undefined) {
      const devices = await listDevices(deps, caller);
      if (!devices.ok) {
        slot.release();
        return gate.refuse(c, caller.principal.id, devices.error, devices.error.code);
      }
      first += frame(parts.events.head, "snapshot", { devices: devices.value });
    }
    const encoder = new TextEncoder();
    let stop = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let ended = false;
        const send = (text: string) => {
          if (ended) return;
          controller.enqueue(encoder.encode(text));
          if ((controller.desiredSize ?? 0) < -SSE_MAX_BACKLOG) {
            parts.onSlow();
            stop();
          }
        };
        const visible = (event: HubEvent) => {
          const principal = deps.home().principals.find((p) => p.id === caller.principal.id);
          return principal !== undefined && canSee(principal, event.device);
        };
        const unlisten = parts.events.listen((event) => {
          if (visible(event)) send(frame(event.id, event.kind, event.data));
        });
        const heartbeat = setInterval(() => send(": ping\n\n"), HEARTBEAT_MS);
        const unregister = parts.streams.add(() => stop());
        stop = () => {
          if (ended) return;
          ended = true;
          unlisten();
          clearInterval(heartbeat);
          unregister();
          slot.release();
          try {
            controller.close();
          } catch {
            // Already cancelled by the client.
          }
        };
        send(first);
        for (const event of missed ?? []) {
          if (visible(event)) send(frame(event.id, event.kind, event.data));
        }
      },
      cancel() {
        stop();
      },
    }, { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  });
}

/** One SSE frame (JSON data is one line). */
function frame(id: string, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
