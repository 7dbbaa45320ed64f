/**
 * Why a publish or an ask did not go through. These are values, not throws:
 * every caller must decide what to tell its client.
 *
 * @module
 */
import type { Refusal } from "./messages.ts";

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
  | { readonly kind: "dead_lettered"; readonly actor: string; readonly error: string }
  /** The consumer restarted too often and was marked failed: nothing is handled until a restart of the hub. */
  | { readonly kind: "unavailable"; readonly actor: string }
  /** The handler finished without answering the request (a bug in the actor). */
  | { readonly kind: "unanswered"; readonly actor: string };

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
    case "unavailable":
      return `The ${failure.actor} service has failed and is unavailable until the hub restarts`;
    case "unanswered":
      return `Internal error in ${failure.actor}: no answer`;
  }
}

/**
 * The one mapping from a delivery failure to what a client is told, used by
 * every channel. A timeout means "not applied": the broker never hands a
 * request to its handler after its asker stopped waiting.
 */
export function refusalFor(failure: DeliveryFailure): Refusal {
  const message = describeFailure(failure);
  switch (failure.kind) {
    case "busy":
      return { code: "busy", message };
    case "timeout":
      return { code: "timeout", message: `${message}: not applied, try again` };
    case "closed":
    case "no_responder":
    case "unavailable":
      return { code: "unavailable", message };
    case "dead_lettered":
    case "unanswered":
      return { code: "internal", message };
  }
}
