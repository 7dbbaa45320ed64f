/**
 * Why a publish or an ask did not go through. These are values, not throws:
 * every caller must decide what to tell its client.
 *
 * @module
 */

/** Why the broker refused or failed a delivery. */
export type DeliveryFailure =
  /** A consumer's mailbox is full: answer "busy" or wait. */
  | { readonly kind: "busy"; readonly actor: string }
  /** The broker is draining or closed: no new work is taken. */
  | { readonly kind: "closed" }
  /** Nobody handles this request type. */
  | { readonly kind: "no_responder"; readonly type: string }
  /** No reply came within the deadline. */
  | { readonly kind: "timeout"; readonly afterMs: number }
  /** The handler failed on every attempt and the message was dead-lettered. */
  | { readonly kind: "dead_lettered"; readonly actor: string; readonly error: string };

/** A human-readable line for a delivery failure, without internals. */
export function describeFailure(failure: DeliveryFailure): string {
  switch (failure.kind) {
    case "busy":
      return `Hub is busy (${failure.actor} queue is full), try again`;
    case "closed":
      return "Hub is shutting down";
    case "no_responder":
      return `Nothing handles ${failure.type}`;
    case "timeout":
      return `No answer within ${failure.afterMs} ms`;
    case "dead_lettered":
      return `Internal error in ${failure.actor}`;
  }
}
