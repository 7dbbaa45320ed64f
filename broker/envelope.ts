/**
 * Builds message envelopes: a fresh id, the current time, the source.
 *
 * @module
 */
import {
  type Message,
  type MessageType,
  type Payloads,
  REPLY_TYPES,
  type ReplyMessage,
  type ReplyPayload,
  type RequestType,
  type Source,
} from "./messages.ts";

/** A clock, injectable so that tests control time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Timers on a clock, injectable so that tests of timeouts run on a test clock, not on real time. */
export interface Timers {
  /** Milliseconds on this clock (any origin; only differences matter). */
  now(): number;
  /** Calls `fire` once `ms` have passed on this clock; returns a function that cancels it. */
  after(ms: number, fire: () => void): () => void;
}

/** Real timers: the monotonic clock and `setTimeout`. */
export const systemTimers: Timers = {
  now: () => performance.now(),
  after(ms, fire) {
    const timer = setTimeout(fire, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/** Options for {@linkcode createMessage}. */
export interface CreateMessageOptions {
  readonly correlationId?: string;
  readonly clock?: Clock;
}

/**
 * Message ids: a random 96-bit prefix drawn once per process, then a counter.
 * Unique across processes and restarts without a random draw per message.
 */
const ID_PREFIX = Array.from(
  crypto.getRandomValues(new Uint8Array(12)),
  (b) => b.toString(16).padStart(2, "0"),
)
  .join("");
let idCounter = 0;

/** A new message id, unique across processes. */
export function nextMessageId(): string {
  idCounter++;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}

let lastMillis = -1;
let lastIso = "";

/** ISO-8601 text of `millis`, reusing the last one within the same millisecond. */
function isoTime(millis: number): string {
  if (millis !== lastMillis) {
    lastMillis = millis;
    lastIso = new Date(millis).toISOString();
  }
  return lastIso;
}

/**
 * Creates a message of kind `type` with a fresh envelope.
 *
 * @example Create a command
 * ```ts
 * const msg = createMessage("device.command", { device: "lamp", action: "on", args: [] },
 *   { principal: "admin", channel: "tls" });
 * ```
 */
export function createMessage<K extends MessageType>(
  type: K,
  payload: Payloads[K],
  source: Source,
  options?: CreateMessageOptions,
): Message<K> {
  const at = isoTime((options?.clock ?? systemClock).now());
  const message = options?.correlationId === undefined
    ? { id: nextMessageId(), at, source, type, payload }
    : { id: nextMessageId(), at, source, correlationId: options.correlationId, type, payload };
  return message as Message<K>;
}

/** The source of every reply the broker builds. */
const REPLY_SOURCE = { principal: null, channel: "system" } as const;

/** The reply message to `request`, carrying `payload`. */
export function createReply<K extends RequestType>(
  request: Message<K>,
  payload: ReplyPayload<K>,
  clock: Clock = systemClock,
): ReplyMessage<K> {
  const reply = {
    id: nextMessageId(),
    at: isoTime(clock.now()),
    source: REPLY_SOURCE,
    correlationId: request.id,
    type: REPLY_TYPES[request.type],
    payload,
  };
  // TypeScript cannot correlate REPLY_TYPES[K] with ReplyPayload<K> through the lookup.
  return reply as unknown as ReplyMessage<K>;
}
