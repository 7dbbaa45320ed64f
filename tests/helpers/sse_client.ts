/**
 * A Server-Sent Events reader for tests: opens `GET /api/events` with real
 * `fetch` and parses frames (`id`, `event`, `data`) as they arrive.
 *
 * @module
 */
import { baseUrl } from "./http_api.ts";
import type { Hub } from "../../hub.ts";

/** One parsed frame. */
export interface SseFrame {
  readonly id: string | undefined;
  readonly event: string;
  // deno-lint-ignore no-explicit-any
  readonly data: any;
}

/** An open stream. */
export interface SseStream extends AsyncDisposable {
  readonly status: number;
  /** The next frame with data (comments and retry lines are skipped); throws at the end. */
  next(): Promise<SseFrame>;
  /** Reads frames until one matches (at most `max` frames). */
  until(match: (frame: SseFrame) => boolean, max?: number): Promise<SseFrame>;
  close(): Promise<void>;
}

/** Opens the event stream with `headers`. */
export async function openEvents(hub: Hub, headers: Record<string, string>): Promise<SseStream> {
  const response = await fetch(`${baseUrl(hub)}/api/events`, { headers });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const next = async (): Promise<SseFrame> => {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | undefined;
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length > 0) return { id, event, data: JSON.parse(data.join("\n")) };
        continue;
      }
      const { done, value } = await reader.read();
      if (done) throw new Error("The event stream ended");
      buffer += value;
    }
  };
  const close = async () => {
    await reader.cancel().catch(() => {});
  };
  return {
    status: response.status,
    next,
    async until(match, max = 50) {
      for (let i = 0; i < max; i++) {
        const frame = await next();
        if (match(frame)) return frame;
      }
      throw new Error("No matching event");
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
