/**
 * The actor system: spawns actors (a supervised runner each) and registers
 * their mailboxes with a broker, which knows them only as consumers. It is
 * itself a {@linkcode Broker} (every messaging call is the broker's), so
 * code that spawns and code that only sends can share one object.
 *
 * Lifecycle events (`system.dead_lettered`, `system.actor_gave_up`, both
 * recorded by the audit actor) are published for failures on ordinary messages
 * only: a failure on a lifecycle message is logged, never republished, so a
 * consumer that fails on them cannot start a loop.
 *
 * @example
 * ```ts
 * const system = new ActorSystem();
 * await system.spawn(createAuditActor(options), { mailboxCapacity: 4096 });
 * ```
 *
 * @module
 */
import { notifyInspectors } from "../broker/inspection.ts";
import type {
  AskOptions,
  AskResult,
  Broker,
  InspectionEvent,
  PublishResult,
  Subscriber,
} from "../broker/broker.ts";
import type { Consumer } from "../broker/consumer.ts";
import { type Clock, createMessage, systemClock, type Timers } from "../broker/envelope.ts";
import { InProcessBroker } from "../broker/in_process_broker.ts";
import type { Message, MessageType, Payloads, RequestType } from "../broker/messages.ts";
import { getLogger } from "../observability/logger.ts";
import type { ActorBehaviour, ActorOptions, ActorStats } from "./actor.ts";
import { ActorRunner } from "./supervisor.ts";

/** A handle to a running actor. */
export interface ActorRef {
  readonly name: string;
  stats(): ActorStats;
}

/** Options for {@linkcode ActorSystem}. */
export interface ActorSystemOptions {
  readonly clock?: Clock;
  /** Timers for ask deadlines (real ones by default). */
  readonly timers?: Timers;
  /** The broker to register with (default: a new in-process broker on the same clock). */
  readonly broker?: Broker;
}

type LifecycleType = "system.dead_lettered" | "system.actor_gave_up";

const log = getLogger("actors");

/** Spawns and supervises actors on a broker. */
export class ActorSystem implements Broker {
  readonly broker: Broker;
  readonly clock: Clock;
  // deno-lint-ignore no-explicit-any
  readonly #runners: ActorRunner<any, any>[] = [];
  readonly #observers = new Set<(event: InspectionEvent) => void>();

  /** Creates a system over `options.broker` or a new in-process broker. */
  constructor(options: ActorSystemOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.broker = options.broker ??
      new InProcessBroker({
        clock: this.clock,
        ...(options.timers === undefined ? {} : { timers: options.timers }),
      });
  }

  /** Starts an actor (its `init` must succeed) and routes the kinds it consumes to its mailbox. */
  async spawn<S, K extends MessageType>(
    behaviour: ActorBehaviour<S, K>,
    options: ActorOptions = {},
  ): Promise<ActorRef> {
    if (this.#runners.some((r) => r.name === behaviour.name)) {
      throw new Error(`An actor named ${behaviour.name} is already running`);
    }
    const name = behaviour.name;
    const runner = new ActorRunner(behaviour, options, {
      clock: this.clock,
      publish: (message) => this.broker.publish(message),
      // Inspection events are built only while someone inspects: this runs per message.
      onHandled: (message, ms) => {
        if (this.#observers.size > 0) this.#emit({ kind: "handled", actor: name, message, ms });
      },
      onBatch: (messages) => {
        if (this.#observers.size > 0) {
          this.#emit({ kind: "batch", actor: name, messages: messages() });
        }
      },
      // Each failure is logged by the runner and counted in its stats (`/metrics`).
      onFailed: (message, error) => this.#emit({ kind: "failed", actor: name, message, error }),
      onDeadLettered: (message, error, attempts) => {
        log.error("Dead-lettered {type} {id} in {actor} after {attempts} attempts: {error}", {
          type: message.type,
          id: message.id,
          actor: name,
          attempts,
          error,
        });
        this.#emit({ kind: "dead_lettered", actor: name, message });
        this.#lifecycle(
          message,
          this.#event("system.dead_lettered", {
            actor: name,
            messageId: message.id,
            messageType: message.type,
            error,
            attempts,
          }),
        );
      },
      onGaveUp: (reason) =>
        this.#lifecycle(undefined, this.#event("system.actor_gave_up", { actor: name, reason })),
      onPressure: (depth, capacity, pressured) => {
        this.broker.publish(
          this.#event("system.mailbox_pressure", { actor: name, depth, capacity, pressured }),
        );
      },
    });
    await runner.start();
    this.broker.register(runner);
    this.#runners.push(runner);
    return { name, stats: () => runner.stats() };
  }

  /** Figures of every actor, in start order. */
  stats(): readonly ActorStats[] {
    return this.#runners.map((r) => r.stats());
  }

  register(consumer: Consumer): void {
    this.broker.register(consumer);
  }
  publish(message: Message): PublishResult {
    return this.broker.publish(message);
  }
  send(message: Message): Promise<PublishResult> {
    return this.broker.send(message);
  }
  ask<K extends RequestType>(message: Message<K>, options: AskOptions): Promise<AskResult<K>> {
    return this.broker.ask(message, options);
  }
  subscribe<K extends MessageType>(types: readonly K[], subscriber: Subscriber<K>): () => void {
    return this.broker.subscribe(types, subscriber);
  }
  /** Observes the broker's deliveries and this system's handling, failures and dead letters. */
  inspect(observer: (event: InspectionEvent) => void): () => void {
    const fromBroker = this.broker.inspect(observer);
    this.#observers.add(observer);
    return () => {
      fromBroker();
      this.#observers.delete(observer);
    };
  }
  settled(): Promise<void> {
    return this.broker.settled();
  }
  drain(): Promise<void> {
    return this.broker.drain();
  }

  #emit(event: InspectionEvent): void {
    notifyInspectors(this.#observers, event);
  }

  #event<T extends MessageType>(type: T, payload: Payloads[T]): Message<T> {
    return createMessage(type, payload, { principal: null, channel: "system" }, {
      clock: this.clock,
    });
  }

  /** Publishes a lifecycle event, unless it is about a lifecycle message (which would loop). */
  #lifecycle(cause: Message | undefined, event: Message<LifecycleType>): void {
    if (cause !== undefined && cause.type.startsWith("system.")) {
      log.warn("{type} about lifecycle message {cause} is logged, not published", {
        type: event.type,
        cause: cause.type,
      });
      return;
    }
    const result = this.broker.publish(event);
    if (!result.ok) {
      log.warn("Could not publish {type}: {kind}", { type: event.type, kind: result.failure.kind });
    }
  }
}
