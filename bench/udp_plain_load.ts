/**
 * Plain-text UDP load in the seed's style, for the seed-style Python loop
 * and the hub's compatibility mode (`UDP_AUTH=none`): one socket keeps
 * `outstanding` datagrams `lamp toggle` in flight (closed loop); the seed's
 * reply carries no id, so each reply answers the oldest request (both
 * servers answer one socket in order). A request unanswered after
 * `lossTimeoutMs` counts as lost and is replaced, never resent.
 *
 * @module
 */
import { LatencyRecorder, summarise } from "./latency.ts";
import type { UdpFigures } from "./udp_load.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The command every datagram carries. */
export const PLAIN_COMMAND = "lamp toggle";

/** Runs the closed loop against `port` on 127.0.0.1. */
export async function udpPlainLoad(
  port: number,
  outstanding: number,
  bounds: { maxRequests: number; seconds: number; lossTimeoutMs?: number },
): Promise<UdpFigures> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
  const lossTimeoutMs = bounds.lossTimeoutMs ?? 1000;
  const request = encoder.encode(PLAIN_COMMAND);
  const recorder = new LatencyRecorder();
  const sentAt: number[] = [];
  let head = 0;
  let issued = 0;
  let lost = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + bounds.seconds * 1000;
  const mayIssue = () => issued < bounds.maxRequests && performance.now() < deadline;
  const { promise: done, resolve: finish } = Promise.withResolvers<void>();
  const refill = async () => {
    while (sentAt.length - head < outstanding && mayIssue()) {
      issued++;
      sentAt.push(performance.now());
      await socket.send(request, target);
    }
    if (sentAt.length === head) finish();
  };
  const sweeper = setInterval(() => {
    const now = performance.now();
    while (head < sentAt.length && now - sentAt[head]! > lossTimeoutMs) {
      head++;
      lost++;
    }
    void refill();
  }, Math.min(100, lossTimeoutMs));
  const receiving = (async () => {
    try {
      for await (const [bytes] of socket) {
        if (head >= sentAt.length) continue;
        const t0 = sentAt[head++]!;
        if (decoder.decode(bytes).endsWith("executed.")) recorder.record(performance.now() - t0);
        else errors++;
        if (head > 4096) {
          sentAt.splice(0, head);
          head = 0;
        }
        await refill();
      }
    } catch { /* closed */ }
  })();
  await refill();
  await done;
  clearInterval(sweeper);
  socket.close();
  await receiving;
  return { ...summarise(recorder, (performance.now() - start) / 1000, errors), lost };
}
