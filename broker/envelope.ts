/**
 * Builds message envelopes: a fresh id, the current time, the source.
 *
 * @module
 */
import type { Envelope, Message, MessageType, Payloads, Source } from "./messages.ts";

/** A clock, injectable so that tests control time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Options for {@linkcode createMessage}. */
export interface CreateMessageOptions {
  readonly correlationId?: string;
  readonly clock?: Clock;
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
  options: CreateMessageOptions = {},
): Message<K> {
  const envelope: Envelope = {
    id: crypto.randomUUID(),
    at: new Date((options.clock ?? systemClock).now()).toISOString(),
    source,
    ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
  };
  return { ...envelope, type, payload } as Message<K>;
}
