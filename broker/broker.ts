/**
 * The broker interface: typed publish, subscribe, request/reply and
 * inspection. Listeners and actors depend on this interface only; the
 * in-process implementation is the first, a NATS one can follow.
 *
 * @module
 */
import type { Consumer } from "./consumer.ts";
import type { DeliveryFailure } from "./errors.ts";
import type { Message, MessageType, ReplyMessage, RequestType } from "./messages.ts";

/** What `publish` answers: delivered to every consumer, or why not (nothing delivered). */
export type PublishResult = { readonly ok: true } | {
  readonly ok: false;
  readonly failure: DeliveryFailure;
};

/** What `ask` answers: the reply, or why there is none. */
export type AskResult<K extends RequestType> =
  | { readonly ok: true; readonly reply: ReplyMessage<K> }
  | { readonly ok: false; readonly failure: DeliveryFailure };

/** Options for `ask`. */
export interface AskOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** Wait for mailbox room instead of answering busy at once (slows the caller). */
  readonly waitForRoom?: boolean;
}

/** A callback subscriber (not an actor): called synchronously on publish. */
export type Subscriber<K extends MessageType> = (message: Message<K>) => void;

/** What the inspection hook sees. */
export type InspectionEvent =
  | { readonly kind: "published"; readonly message: Message }
  | {
    readonly kind: "handled";
    readonly actor: string;
    readonly message: Message;
    readonly ms: number;
  }
  | {
    readonly kind: "failed";
    readonly actor: string;
    readonly message: Message;
    readonly error: string;
  }
  | { readonly kind: "dead_lettered"; readonly actor: string; readonly message: Message }
  /** An actor handled `size` queued messages as one batch (one group commit). */
  | { readonly kind: "batch"; readonly actor: string; readonly messages: readonly Message[] };

/** The hub's message broker. */
export interface Broker {
  /** Routes the kinds `consumer` consumes to it (one responder per request kind). */
  register(consumer: Consumer): void;
  /** Delivers to every consumer, or to none when any mailbox is full. Never waits. */
  publish(message: Message): PublishResult;
  /** Like publish, but waits for room in full mailboxes (the caller slows down). */
  send(message: Message): Promise<PublishResult>;
  /** Sends a request to its one responder and waits for the typed reply. */
  ask<K extends RequestType>(message: Message<K>, options: AskOptions): Promise<AskResult<K>>;
  /** Calls `subscriber` for each published message of the given kinds; returns an unsubscribe function. */
  subscribe<K extends MessageType>(types: readonly K[], subscriber: Subscriber<K>): () => void;
  /** Observes every delivery (tests, metrics); returns an unsubscribe function. */
  inspect(observer: (event: InspectionEvent) => void): () => void;
  /** Resolves once every mailbox is empty and every actor idle. */
  settled(): Promise<void>;
  /** Stops taking new messages, then drains every consumer in reverse registration order. */
  drain(): Promise<void>;
}
