/**
 * The in-process broker: routes each message kind to the consumers (actor
 * mailboxes) registered for it and to callback subscribers, answers `ask`
 * with the one responder's reply, and exposes an inspection hook and
 * `settled()`. It knows consumers only through {@linkcode Consumer}: the
 * actor runtime lives in `actors/`.
 *
 * Delivery to actors is all-or-nothing: when any consumer's mailbox is full,
 * `publish` delivers to none and answers busy, so nothing is half-applied.
 *
 * @module
 */
import { notifyInspectors } from "./inspection.ts";
import type { Consumer, Delivery } from "./consumer.ts";
import { type Clock, createReply, systemClock, type Timers } from "./envelope.ts";
import type {
  AskOptions,
  AskResult,
  Broker,
  InspectionEvent,
  PublishResult,
  Subscriber,
} from "./broker.ts";
import {
  isRequestType,
  type Message,
  type MessageType,
  type ReplyMessage,
  type ReplyPayload,
  type RequestType,
} from "./messages.ts";
import { getLogger } from "../observability/logger.ts";
import { Deadlines } from "./deadlines.ts";

/** Options for {@linkcode InProcessBroker}. */
export interface InProcessBrokerOptions {
  /** Stamps the messages the broker builds (replies). */
  readonly clock?: Clock;
  /** Measures ask deadlines (real timers by default; a test clock in tests of timeouts). */
  readonly timers?: Timers;
}

type AnyRunner = Consumer;
// deno-lint-ignore no-explicit-any
type AnySubscriber = Subscriber<any>;

const log = getLogger("broker");

/** The embedded broker: every actor and subscriber in this process. */
export class InProcessBroker implements Broker {
  readonly #clock: Clock;
  readonly #runners: AnyRunner[] = [];
  readonly #routes = new Map<MessageType, AnyRunner[]>();
  readonly #responders = new Map<RequestType, AnyRunner>();
  readonly #subscribers = new Map<MessageType, Set<AnySubscriber>>();
  readonly #observers = new Set<(event: InspectionEvent) => void>();
  readonly #deadlines: Deadlines;
  #closed = false;

  /** Creates an empty broker. */
  constructor(options: InProcessBrokerOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#deadlines = new Deadlines(options.timers);
  }

  /** The clock messages built by the broker are stamped with. */
  get clock(): Clock {
    return this.#clock;
  }

  register(consumer: Consumer): void {
    if (this.#runners.some((r) => r.name === consumer.name)) {
      throw new Error(`A consumer named ${consumer.name} is already registered`);
    }
    for (const type of consumer.consumes) {
      if (isRequestType(type) && this.#responders.has(type)) {
        throw new Error(`${type} already has a responder: ${this.#responders.get(type)!.name}`);
      }
    }
    this.#runners.push(consumer);
    for (const type of consumer.consumes) {
      const list = this.#routes.get(type) ?? [];
      list.push(consumer);
      this.#routes.set(type, list);
      if (isRequestType(type)) this.#responders.set(type, consumer);
    }
  }

  publish(message: Message): PublishResult {
    if (this.#closed) return { ok: false, failure: { kind: "closed" } };
    const runners = this.#routes.get(message.type) ?? [];
    const full = runners.find((r) => !r.hasRoom());
    if (full) return { ok: false, failure: { kind: "busy", actor: full.name } };
    this.#deliver(message, runners, undefined);
    return { ok: true };
  }

  async send(message: Message): Promise<PublishResult> {
    while (!this.#closed) {
      const runners = this.#routes.get(message.type) ?? [];
      const full = runners.find((r) => !r.hasRoom());
      if (!full) {
        this.#deliver(message, runners, undefined);
        return { ok: true };
      }
      if (full.closed) break;
      await full.waitForRoom();
    }
    return { ok: false, failure: { kind: "closed" } };
  }

  async ask<K extends RequestType>(
    message: Message<K>,
    options: AskOptions,
  ): Promise<AskResult<K>> {
    if (this.#closed) return { ok: false, failure: { kind: "closed" } };
    const responder = this.#responders.get(message.type);
    if (!responder) return { ok: false, failure: { kind: "no_responder", type: message.type } };
    if (!responder.available) {
      return { ok: false, failure: { kind: "unavailable", actor: responder.name } };
    }
    const runners = this.#routes.get(message.type) ?? [];
    const timeout: AskResult<K> = {
      ok: false,
      failure: { kind: "timeout", afterMs: options.timeoutMs },
    };
    const deadlineAt = this.#deadlines.now() + options.timeoutMs;
    // Slow path: a full mailbox. Answer busy, or wait for room until the deadline.
    let full = runners.find((r) => !r.hasRoom());
    while (full) {
      if (!options.waitForRoom || full.closed) {
        return { ok: false, failure: { kind: "busy", actor: full.name } };
      }
      const roomy = await this.#within(full.waitForRoom(), deadlineAt - this.#deadlines.now());
      if (!roomy) return timeout;
      if (this.#closed) return { ok: false, failure: { kind: "closed" } };
      full = runners.find((r) => !r.hasRoom());
    }
    return await new Promise<AskResult<K>>((resolve) => {
      let done = false;
      let cancel = () => {};
      const delivery: Delivery = {
        message: message as Message,
        attempts: 0,
        answer: (result) => {
          if (done) return;
          done = true;
          cancel();
          if (!result.ok) return resolve(result);
          // The responder consumes exactly this request kind, so its payload is this kind's reply.
          const payload = result.payload as ReplyPayload<K>;
          const reply: ReplyMessage<K> = createReply(message, payload, this.#clock);
          if (this.#observers.size > 0) {
            this.#emit({ kind: "published", message: reply as Message });
          }
          resolve({ ok: true, reply });
        },
      };
      cancel = this.#deadlines.add(deadlineAt - this.#deadlines.now(), () => {
        if (done) return;
        done = true;
        // Not handled yet, so it never will be: "timeout" means "not applied".
        delivery.cancelled = true;
        resolve(timeout);
      });
      this.#deliver(message as Message, runners, { to: responder, delivery });
    });
  }

  /** Resolves true when `promise` settles within `ms`, false when the time runs out first. */
  async #within(promise: Promise<unknown>, ms: number): Promise<boolean> {
    if (ms <= 0) return false;
    let cancel = () => {};
    const expired = new Promise<false>((resolve) => {
      cancel = this.#deadlines.add(ms, () => resolve(false));
    });
    try {
      return await Promise.race([promise.then(() => true as const), expired]);
    } finally {
      cancel();
    }
  }

  subscribe<K extends MessageType>(types: readonly K[], subscriber: Subscriber<K>): () => void {
    for (const type of types) {
      const set = this.#subscribers.get(type) ?? new Set();
      set.add(subscriber);
      this.#subscribers.set(type, set);
    }
    return () => {
      for (const type of types) this.#subscribers.get(type)?.delete(subscriber);
    };
  }

  inspect(observer: (event: InspectionEvent) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  async settled(): Promise<void> {
    // Handling may publish more messages: repeat until one pass finds everything idle.
    while (!this.#runners.every((r) => r.idle)) {
      await Promise.all(this.#runners.map((r) => r.whenIdle()));
    }
  }

  async drain(): Promise<void> {
    this.#closed = true;
    for (const runner of [...this.#runners].reverse()) await runner.drain();
  }

  #deliver(
    message: Message,
    runners: readonly AnyRunner[],
    reply: { to: AnyRunner; delivery: Delivery } | undefined,
  ): void {
    if (this.#observers.size > 0) this.#emit({ kind: "published", message });
    for (const runner of runners) {
      runner.offer(reply?.to === runner ? reply.delivery : { message, attempts: 0 });
    }
    const subscribers = this.#subscribers.get(message.type);
    if (!subscribers) return;
    for (const subscriber of subscribers) {
      try {
        subscriber(message);
      } catch (error) {
        log.error("A subscriber to {type} threw: {error}", {
          type: message.type,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  #emit(event: InspectionEvent): void {
    notifyInspectors(this.#observers, event);
  }
}
