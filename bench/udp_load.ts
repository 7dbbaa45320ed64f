/**
 * UDP load client: one socket keeping `outstanding` signed requests in
 * flight (closed loop), matching replies by request id. A request with no
 * reply after `lossTimeoutMs` counts as lost and is replaced, never resent.
 * Bounded in count and time.
 *
 * @module
 */
import { type DatagramKind, encodeRequest } from "../protocols/udp/udp_datagram.ts";
import type { SigningKey } from "../protocols/udp/hmac.ts";
import { LatencyRecorder, type LoopFigures, summarise } from "./latency.ts";

/** UDP figures: closed-loop figures plus lost requests. */
export interface UdpFigures extends LoopFigures {
  readonly lost: number;
}

/** What to send and how to read replies. */
export interface UdpDialect {
  readonly principal: string;
  readonly key: SigningKey;
  readonly kind: DatagramKind;
  readonly body: string;
  /** The request id a reply answers and whether it is a success; undefined when unreadable. */
  readReply(bytes: Uint8Array): { id: string; ok: boolean } | undefined;
}

const decoder = new TextDecoder();

/** Reads the id of an echoed request (the bare baseline sends the request back). */
export function echoedId(bytes: Uint8Array): { id: string; ok: boolean } | undefined {
  const id = decoder.decode(bytes).split(" ")[4];
  return id === undefined ? undefined : { id, ok: true };
}

/** Runs the closed loop against `port` on 127.0.0.1. */
export async function udpLoad(
  port: number,
  dialect: UdpDialect,
  outstanding: number,
  bounds: { maxRequests: number; seconds: number; lossTimeoutMs?: number },
): Promise<UdpFigures> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
  const lossTimeoutMs = bounds.lossTimeoutMs ?? 1000;
  const recorder = new LatencyRecorder();
  const inFlight = new Map<string, number>();
  const noncePrefix = Array.from(
    crypto.getRandomValues(new Uint8Array(4)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  // Ids are remembered by the hub (a retransmission repeats its id): unique per run.
  const idPrefix = Array.from(
    crypto.getRandomValues(new Uint8Array(6)),
    (b) => (b % 36).toString(36),
  ).join("");
  let issued = 0;
  let lost = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + bounds.seconds * 1000;
  const mayIssue = () => issued < bounds.maxRequests && performance.now() < deadline;
  const sendOne = async () => {
    const n = issued++;
    const id = idPrefix + n.toString(36);
    const bytes = encodeRequest({
      principal: dialect.principal,
      timestamp: Math.floor(Date.now() / 1000),
      nonce: noncePrefix + n.toString(16).padStart(8, "0"),
      id,
      kind: dialect.kind,
      body: dialect.body,
    }, dialect.key);
    inFlight.set(id, performance.now());
    await socket.send(bytes, target);
  };
  const { promise: done, resolve: finish } = Promise.withResolvers<void>();
  const refill = async () => {
    while (inFlight.size < outstanding && mayIssue()) await sendOne();
    if (inFlight.size === 0) finish();
  };
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const [id, sentAt] of inFlight) {
      if (now - sentAt > lossTimeoutMs) {
        inFlight.delete(id);
        lost++;
      }
    }
    void refill();
  }, Math.min(100, lossTimeoutMs));
  const receiving = (async () => {
    try {
      for await (const [bytes] of socket) {
        const reply = dialect.readReply(bytes);
        const sentAt = reply === undefined ? undefined : inFlight.get(reply.id);
        if (reply === undefined || sentAt === undefined) continue;
        inFlight.delete(reply.id);
        if (reply.ok) recorder.record(performance.now() - sentAt);
        else errors++;
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
