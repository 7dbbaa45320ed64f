/**
 * What an actor is: a name, the message kinds it consumes, and gen_server
 * style callbacks. `init` builds the state, `handle` takes one message at a
 * time and returns the next state (and the reply, for requests), and
 * `terminate` cleans up. Expected refusals are reply values; a throw is a
 * bug, which the supervisor answers with a restart.
 *
 * @module
 */
import type { Clock } from "../broker/envelope.ts";
import type {
  Message,
  MessageType,
  ReplyPayload,
  ReplyPayloadFor,
  RequestType,
} from "../broker/messages.ts";
import type { PublishResult } from "../broker/broker.ts";

/** What an actor may do besides changing its own state. */
export interface ActorContext {
  /** The actor's name. */
  readonly name: string;
  readonly clock: Clock;
  /** Publishes a message (an event); never waits. */
  publish(message: Message): PublishResult;
  /**
   * Answers a request, typed by its kind: a wrong reply does not compile.
   * Call it while handling, or later for a request marked with `defer`.
   */
  reply<T extends RequestType>(message: Message<T>, payload: ReplyPayload<T>): void;
  /** Marks a request as answered later through `reply` (a real device that must confirm). */
  defer(message: Message): void;
}

/**
 * What `handle` returns: the next state and, for a request, its reply
 * payload. Actors whose messages have different reply kinds answer through
 * `ctx.reply` instead, which types each reply by its request.
 */
export interface Handled<S, K extends MessageType> {
  readonly state: S;
  readonly reply?: ReplyPayloadFor<K>;
}

/** Why an actor is being terminated. */
export type TerminateReason = "shutdown" | "restart";

/** The callbacks and settings of one actor. */
export interface ActorBehaviour<S, K extends MessageType> {
  readonly name: string;
  /** The message kinds delivered to this actor. */
  readonly consumes: readonly K[];
  /** Builds the state; called at start and after every restart. */
  init(ctx: ActorContext): Promise<S> | S;
  /** Handles one message. Throwing restarts the actor and retries the message. */
  handle(state: S, message: Message<K>, ctx: ActorContext): Promise<Handled<S, K>> | Handled<S, K>;
  /**
   * Optional: handles several queued messages at once, in order (for group
   * commit), answering requests through `ctx.reply`. When it throws, the
   * runtime retries the messages one at a time through `handle`.
   */
  handleBatch?(
    state: S,
    messages: readonly Message<K>[],
    ctx: ActorContext,
  ): Promise<S> | S;
  /** Cleans up; called at shutdown and before a restart. Must not throw. */
  terminate?(state: S, reason: TerminateReason): Promise<void> | void;
}

/** Mailbox and supervision settings for one actor. */
export interface ActorOptions {
  /** Mailbox capacity; publishing to a full mailbox answers "busy". */
  readonly mailboxCapacity?: number;
  /** Most messages `handleBatch` gets at once. */
  readonly maxBatch?: number;
  /** Attempts at one message before it is dead-lettered. */
  readonly maxAttempts?: number;
  /** First restart delay; doubles per consecutive failure. */
  readonly backoffInitialMs?: number;
  /** Longest restart delay. */
  readonly backoffMaxMs?: number;
  /** Restart intensity: more than this many restarts within `restartWindowMs` and the actor fails for good. */
  readonly maxRestarts?: number;
  /** The period `maxRestarts` counts over. */
  readonly restartWindowMs?: number;
}

/** Defaults for {@linkcode ActorOptions}. */
export const DEFAULT_ACTOR_OPTIONS: Required<ActorOptions> = {
  mailboxCapacity: 1024,
  maxBatch: 256,
  maxAttempts: 3,
  backoffInitialMs: 10,
  backoffMaxMs: 2000,
  maxRestarts: 5,
  restartWindowMs: 30_000,
};

/** Lifecycle status of an actor. */
export type ActorStatus =
  | "starting"
  | "running"
  | "restarting"
  | "failed"
  | "stopping"
  | "stopped";

/** Figures one actor exposes for health and metrics. */
export interface ActorStats {
  readonly name: string;
  readonly status: ActorStatus;
  readonly depth: number;
  readonly capacity: number;
  readonly handled: number;
  readonly failed: number;
  readonly restarts: number;
  readonly deadLetters: number;
  /** Handling time histogram: counts per upper bound in ms (last is +Inf). */
  readonly handlingMs: {
    readonly bounds: readonly number[];
    readonly counts: readonly number[];
    readonly sum: number;
  };
}
