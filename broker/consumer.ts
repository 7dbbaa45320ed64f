/**
 * What the broker delivers to: a consumer with a bounded queue (an actor's
 * mailbox here, a remote subscription in a distributed broker). The broker
 * knows this interface only, never the actor runtime behind it.
 *
 * @module
 */
import type { DeliveryFailure } from "./errors.ts";
import type { Message, MessageType, ReplyPayloadFor } from "./messages.ts";

/** What an asker is told: the reply payload, or why there is none. */
export type DeliveryAnswer<K extends MessageType = MessageType> =
  | { readonly ok: true; readonly payload: ReplyPayloadFor<K> }
  | { readonly ok: false; readonly failure: DeliveryFailure };

/** A queued message, with the callback that answers its asker (if any). */
export interface Delivery<K extends MessageType = MessageType> {
  readonly message: Message<K>;
  attempts: number;
  readonly answer?: (result: DeliveryAnswer<K>) => void;
  /**
   * Set when its asker stopped waiting (timeout): the message is then skipped, never handled,
   * so a request the client was told failed changes nothing.
   */
  cancelled?: boolean;
}

/** A named receiver of the message kinds it consumes. */
export interface Consumer {
  readonly name: string;
  readonly consumes: readonly MessageType[];
  /** False once it has failed for good (restart intensity exceeded): asks get `unavailable`. */
  readonly available: boolean;
  /** True when its queue is closed to new messages. */
  readonly closed: boolean;
  /** True when its queue is empty and nothing is being handled. */
  readonly idle: boolean;
  /** Whether the queue has room for one more message. */
  hasRoom(): boolean;
  /** Queues a delivery if there is room. */
  offer(delivery: Delivery): boolean;
  /** Resolves when there is room (or the queue closed). */
  waitForRoom(): Promise<void>;
  /** Resolves when the queue is empty and nothing is being handled. */
  whenIdle(): Promise<void>;
  /** Stops taking messages, handles the queued ones, then stops. */
  drain(): Promise<void>;
}
