/**
 * The connect-per-command client every TLS peer row uses, written the way a
 * Node.js program (or the seed's own client) would: `node:tls` `connect`,
 * Nagle left as Node leaves it, the request written once the handshake is
 * done, then wait for the reply and close. One {@linkcode Exchange} per
 * server kind says what to send and when the reply is complete, so the hub,
 * the seed-style server and Mosquitto are driven by the same loop.
 *
 * @module
 */
import tls from "node:tls";
import { LatencyRecorder, type LoopFigures, summarise } from "./latency.ts";
import type { LoadBounds, TlsTarget } from "./tls_load.ts";

/** What one exchange sends and when it is done. */
export interface Exchange {
  /** Bytes written right after the handshake. */
  readonly first: Uint8Array;
  /**
   * Called with everything received so far; returns bytes to send next (an
   * MQTT PUBLISH after its CONNACK), `"done"` when the reply is complete,
   * `"failed"` when it reports an error, or null to wait for more.
   */
  next(received: Uint8Array): Uint8Array | "done" | "failed" | null;
  /** Written before closing after a success (MQTT DISCONNECT). */
  readonly last?: Uint8Array;
}

/** Runs one exchange on a fresh `node:tls` connection; resolves true on success. */
export function exchangeOnce(
  target: TlsTarget,
  exchange: Exchange,
  timeoutMs = 5000,
): Promise<boolean> {
  return new Promise((resolve) => {
    let received = new Uint8Array(0);
    let settled = false;
    const socket = tls.connect({
      host: "127.0.0.1",
      port: target.port,
      ca: target.caCert,
      servername: "localhost",
    }, () => socket.write(exchange.first));
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok && exchange.last !== undefined) socket.end(exchange.last);
      else socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on("data", (chunk: Uint8Array) => {
      const all = new Uint8Array(received.length + chunk.length);
      all.set(received);
      all.set(chunk, received.length);
      received = all;
      const step = exchange.next(received);
      if (step === "done") finish(true);
      else if (step === "failed") finish(false);
      else if (step !== null) socket.write(step);
    });
    socket.on("error", () => finish(false));
    socket.on("close", () => finish(false));
  });
}

/** `concurrency` loops of {@linkcode exchangeOnce}, bounded in count and time. */
export async function nodeStyleConnectPerCommand(
  target: TlsTarget,
  makeExchange: (i: number) => Exchange,
  concurrency: number,
  bounds: LoadBounds,
): Promise<LoopFigures> {
  const recorder = new LatencyRecorder();
  let issued = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + bounds.seconds * 1000;
  const loop = async () => {
    while (issued < bounds.maxRequests && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      if (await exchangeOnce(target, makeExchange(i))) recorder.record(performance.now() - t0);
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return summarise(recorder, (performance.now() - start) / 1000, errors);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A text exchange: send `lines` (joined by newlines, a trailing newline
 * unless `unterminated`), done when `replies` newline-ended replies came (or,
 * for the seed, which ends its reply with no newline, any bytes at all when
 * `replies` is 0); `ok` checks each reply line.
 */
export function textExchange(
  lines: readonly string[],
  replies: number,
  ok: (line: string) => boolean,
  unterminated = false,
): Exchange {
  const text = lines.join("\n") + (unterminated ? "" : "\n");
  return {
    first: encoder.encode(text),
    next(received) {
      const got = decoder.decode(received);
      if (replies === 0) return got.length > 0 ? (ok(got) ? "done" : "failed") : null;
      const parts = got.split("\n");
      if (parts.length - 1 < replies) return null;
      return parts.slice(0, replies).every(ok) ? "done" : "failed";
    },
  };
}
