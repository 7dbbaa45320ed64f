/**
 * Runs one actor: its bounded mailbox, its one-at-a-time loop, and its
 * supervision. A handler that throws restarts the actor after a backoff
 * (doubling per consecutive failure, capped); the message that crashed it
 * is retried up to `maxAttempts` times, then dead-lettered: counted, logged,
 * reported, and its asker told. More than `maxRestarts` restarts within
 * `restartWindowMs` (OTP's restart intensity) and the actor is marked
 * failed: every queued and later request is answered `unavailable`.
 *
 * @module
 */
import { Mailbox } from "../broker/mailbox.ts";
import type { Consumer, Delivery, DeliveryAnswer } from "../broker/consumer.ts";
import type { Clock } from "../broker/envelope.ts";
import type { PublishResult } from "../broker/broker.ts";
import type { Message, MessageType, ReplyPayloadFor } from "../broker/messages.ts";
import { Histogram } from "../observability/histogram.ts";
import { getLogger } from "../observability/logger.ts";
import {
  type ActorBehaviour,
  type ActorContext,
  type ActorOptions,
  type ActorStats,
  type ActorStatus,
  DEFAULT_ACTOR_OPTIONS,
} from "./actor.ts";
import { RestartPolicy } from "./restart_policy.ts";

/** What the runner reports back to the actor system. */
export interface RunnerHooks {
  readonly clock: Clock;
  publish(message: Message): PublishResult;
  onHandled(message: Message, ms: number): void;
  /** A batch was handled (one call, one group commit); `messages` builds its list only when asked. */
  onBatch(messages: () => readonly Message[]): void;
  onFailed(message: Message, error: string): void;
  onDeadLettered(message: Message, error: string, attempts: number): void;
  /** The restart intensity was exceeded: the actor is failed for good. */
  onGaveUp(reason: string): void;
  /** The mailbox crossed its high-water mark, or fell back below the low one. */
  onPressure(depth: number, capacity: number, pressured: boolean): void;
}

/** Pressure is signalled above this share of capacity and cleared below the lower one. */
const PRESSURE_HIGH = 0.8;
const PRESSURE_LOW = 0.5;

/** Runs and supervises one actor; the broker sees it as a {@linkcode Consumer}. */
export class ActorRunner<S, K extends MessageType> implements Consumer {
  readonly name: string;
  readonly consumes: readonly MessageType[];
  readonly #behaviour: ActorBehaviour<S, K>;
  readonly #options: Required<ActorOptions>;
  readonly #hooks: RunnerHooks;
  readonly #mailbox: Mailbox<Delivery<K>>;
  readonly #histogram = new Histogram();
  readonly #log;
  readonly #context: ActorContext;
  /** Requests being handled now, by message id, until answered or deferred. */
  readonly #open = new Map<string, Delivery<K>>();
  /** Requests a handler deferred, answered later through `ctx.reply`. */
  readonly #deferred = new Map<string, Delivery<K>>();
  #state: S | undefined;
  #status: ActorStatus = "starting";
  #busy = false;
  #idleWaiters: (() => void)[] = [];
  #loop: Promise<void> | undefined;
  readonly #restartPolicy: RestartPolicy;
  #handled = 0;
  #failed = 0;
  #restarts = 0;
  #deadLetters = 0;
  #pressured = false;

  /** Creates a runner; call {@linkcode ActorRunner.start} to init and run it. */
  constructor(behaviour: ActorBehaviour<S, K>, options: ActorOptions, hooks: RunnerHooks) {
    this.name = behaviour.name;
    this.consumes = behaviour.consumes;
    this.#behaviour = behaviour;
    this.#options = { ...DEFAULT_ACTOR_OPTIONS, ...options };
    this.#restartPolicy = new RestartPolicy(this.#options);
    this.#hooks = hooks;
    this.#mailbox = new Mailbox(this.#options.mailboxCapacity);
    this.#log = getLogger("actor", behaviour.name);
    this.#context = {
      name: behaviour.name,
      clock: hooks.clock,
      publish: (message) => hooks.publish(message),
      reply: (message, payload) => this.#answerById(message.id, { ok: true, payload }),
      defer: (message) => {
        const delivery = this.#open.get(message.id);
        if (delivery === undefined) return;
        this.#open.delete(message.id);
        this.#deferred.set(message.id, delivery);
      },
    };
  }

  /** Runs `init` (throws if it fails the first time) and starts the loop. */
  async start(): Promise<void> {
    this.#state = await this.#behaviour.init(this.#context);
    this.#status = "running";
    this.#loop = this.#run();
  }

  /** False once the actor failed for good. */
  get available(): boolean {
    return this.#status !== "failed";
  }

  hasRoom(): boolean {
    return this.#mailbox.hasRoom();
  }

  offer(delivery: Delivery): boolean {
    // The broker routes only the kinds this actor consumes (`consumes`), so this is a Delivery<K>.
    const ok = this.#mailbox.trySend(delivery as unknown as Delivery<K>);
    if (!ok) return false;
    // Work is pending from here on, even while the mailbox hands it straight to the loop (depth 0).
    this.#busy = true;
    this.#checkPressure();
    return true;
  }

  waitForRoom(): Promise<void> {
    return this.#mailbox.waitForRoom();
  }

  get closed(): boolean {
    return this.#mailbox.closed;
  }

  get idle(): boolean {
    return !this.#busy && this.#mailbox.depth === 0;
  }

  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async drain(): Promise<void> {
    if (this.#status === "stopped") return;
    this.#mailbox.close();
    await this.#loop;
    const failed = this.#status === "failed";
    this.#status = "stopping";
    if (!failed) await this.#terminate("shutdown");
    for (const id of [...this.#deferred.keys()]) {
      this.#answerById(id, { ok: false, failure: { kind: "closed" } });
    }
    this.#status = "stopped";
  }

  /** The actor's figures now. */
  stats(): ActorStats {
    return {
      name: this.name,
      status: this.#status,
      depth: this.#mailbox.depth,
      capacity: this.#mailbox.capacity,
      handled: this.#handled,
      failed: this.#failed,
      restarts: this.#restarts,
      deadLetters: this.#deadLetters,
      handlingMs: this.#histogram.snapshot(),
    };
  }

  async #run(): Promise<void> {
    while (true) {
      const first = await this.#mailbox.receive();
      if (first === undefined) break;
      this.#busy = true;
      if (this.#status === "failed") {
        this.#refuseUnavailable(first);
      } else {
        const batch = first.cancelled ? [] : [first];
        if (this.#behaviour.handleBatch) {
          while (batch.length < this.#options.maxBatch) {
            const next = this.#mailbox.tryReceive();
            if (next === undefined) break;
            if (!next.cancelled) batch.push(next);
          }
        }
        this.#checkPressure();
        // Nothing can cancel between here and the handler's first await: deadlines are timers.
        if (batch.length > 1) await this.#processBatch(batch);
        else if (batch.length === 1) await this.#processOne(batch[0]!);
      }
      // Idle only once nothing is queued: between two messages the actor is still busy, so
      // `settled()` cannot slip in while the next one is being taken from the mailbox.
      if (this.#mailbox.depth === 0) {
        this.#busy = false;
        for (const resolve of this.#idleWaiters.splice(0)) resolve();
      }
    }
    this.#busy = false;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  async #processBatch(batch: Delivery<K>[]): Promise<void> {
    const started = performance.now();
    for (const delivery of batch) this.#openRequest(delivery);
    try {
      this.#state = await this.#behaviour.handleBatch!(
        this.#state as S,
        batch.map((d) => d.message),
        this.#context,
      );
      this.#restartPolicy.succeeded();
      this.#hooks.onBatch(() => batch.map((d) => d.message as Message));
      const perMessage = (performance.now() - started) / batch.length;
      for (const delivery of batch) this.#succeed(delivery, undefined, perMessage);
    } catch (error) {
      // Isolate the culprit: count one attempt for each, then retry them one by one.
      const text = errorText(error);
      this.#failed++;
      for (const delivery of batch) {
        delivery.attempts++;
        this.#open.delete(delivery.message.id);
      }
      this.#log.error("Batch of {count} failed in {actor}: {error}", {
        count: batch.length,
        actor: this.name,
        error: text,
      });
      if (!(await this.#restart(text))) {
        for (const delivery of batch) this.#refuseUnavailable(delivery);
        return;
      }
      for (const delivery of batch) await this.#processOne(delivery, text);
    }
  }

  async #processOne(delivery: Delivery<K>, previousError = ""): Promise<void> {
    let lastError = previousError;
    while (delivery.attempts < this.#options.maxAttempts) {
      // A retry after a restart: its asker may have stopped waiting meanwhile.
      if (delivery.cancelled) return;
      const started = performance.now();
      this.#openRequest(delivery);
      try {
        const result = await this.#behaviour.handle(
          this.#state as S,
          delivery.message,
          this.#context,
        );
        this.#state = result.state;
        this.#restartPolicy.succeeded();
        this.#hooks.onBatch(() => [delivery.message as Message]);
        this.#succeed(delivery, result.reply, performance.now() - started);
        return;
      } catch (error) {
        this.#open.delete(delivery.message.id);
        lastError = errorText(error);
        delivery.attempts++;
        this.#failed++;
        this.#hooks.onFailed(delivery.message as Message, lastError);
        this.#log.error("{actor} failed on {type} (attempt {attempt}): {error}", {
          actor: this.name,
          type: delivery.message.type,
          attempt: delivery.attempts,
          error: lastError,
        });
        if (!(await this.#restart(lastError))) return this.#refuseUnavailable(delivery);
      }
    }
    this.#deadLetters++;
    this.#hooks.onDeadLettered(delivery.message as Message, lastError, delivery.attempts);
    delivery.answer?.({
      ok: false,
      failure: { kind: "dead_lettered", actor: this.name, error: lastError },
    });
  }

  #openRequest(delivery: Delivery<K>): void {
    if (delivery.answer) this.#open.set(delivery.message.id, delivery);
  }

  #succeed(delivery: Delivery<K>, reply: ReplyPayloadFor<K> | undefined, ms: number): void {
    this.#handled++;
    this.#histogram.observe(ms);
    this.#hooks.onHandled(delivery.message as Message, ms);
    if (!this.#open.has(delivery.message.id)) return; // answered through ctx.reply, or deferred
    if (reply !== undefined) {
      this.#answerById(delivery.message.id, { ok: true, payload: reply });
      return;
    }
    this.#log.error("{actor} left {type} {id} unanswered", {
      actor: this.name,
      type: delivery.message.type,
      id: delivery.message.id,
    });
    this.#answerById(delivery.message.id, {
      ok: false,
      failure: { kind: "unanswered", actor: this.name },
    });
  }

  #answerById(id: string, answer: DeliveryAnswer): void {
    const delivery = this.#open.get(id) ?? this.#deferred.get(id);
    if (delivery === undefined) return;
    this.#open.delete(id);
    this.#deferred.delete(id);
    // The reply was typed against its request by `ctx.reply`.
    delivery.answer?.(answer as DeliveryAnswer<K>);
  }

  #refuseUnavailable(delivery: Delivery<K>): void {
    delivery.answer?.({ ok: false, failure: { kind: "unavailable", actor: this.name } });
  }

  /**
   * Terminates the current state and inits a fresh one after a backoff. Answers false (and
   * marks the actor failed) once restarts exceed the intensity limit.
   */
  async #restart(reason: string): Promise<boolean> {
    this.#status = "restarting";
    await this.#terminate("restart");
    while (true) {
      if (!this.#restartPolicy.withinIntensity(this.#hooks.clock.now())) {
        this.#giveUp(reason);
        return false;
      }
      this.#restarts++;
      const delay = this.#restartPolicy.nextBackoffMs();
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        this.#state = await this.#behaviour.init(this.#context);
        this.#status = "running";
        return true;
      } catch (error) {
        reason = `init failed: ${errorText(error)}`;
        this.#state = undefined;
        this.#log.error("{actor} could not restart: {error}", { actor: this.name, error: reason });
      }
    }
  }

  #giveUp(reason: string): void {
    this.#status = "failed";
    this.#state = undefined;
    this.#log.error(
      "{actor} restarted more than {max} times in {window} ms and is marked failed: {reason}",
      {
        actor: this.name,
        max: this.#options.maxRestarts,
        window: this.#options.restartWindowMs,
        reason,
      },
    );
    for (const id of [...this.#deferred.keys()]) {
      this.#answerById(id, { ok: false, failure: { kind: "unavailable", actor: this.name } });
    }
    this.#hooks.onGaveUp(reason);
  }

  async #terminate(reason: "shutdown" | "restart"): Promise<void> {
    if (this.#state === undefined || !this.#behaviour.terminate) return;
    try {
      await this.#behaviour.terminate(this.#state, reason);
    } catch (error) {
      this.#log.error("{actor} terminate failed: {error}", {
        actor: this.name,
        error: errorText(error),
      });
    }
  }

  #checkPressure(): void {
    const share = this.#mailbox.depth / this.#mailbox.capacity;
    if (!this.#pressured && share >= PRESSURE_HIGH) {
      this.#pressured = true;
      this.#signalPressure();
    } else if (this.#pressured && share <= PRESSURE_LOW) {
      this.#pressured = false;
      this.#signalPressure();
    }
  }

  #signalPressure(): void {
    const payload = {
      actor: this.name,
      depth: this.#mailbox.depth,
      capacity: this.#mailbox.capacity,
      pressured: this.#pressured,
    };
    if (this.#pressured) this.#log.warn("{actor} mailbox is {depth}/{capacity} full", payload);
    else this.#log.info("{actor} mailbox pressure cleared ({depth}/{capacity})", payload);
    this.#hooks.onPressure(payload.depth, payload.capacity, payload.pressured);
  }
}

/** The message of an unknown thrown value. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
