/**
 * Runs one actor: its bounded mailbox, its one-at-a-time loop, and its
 * supervision. A handler that throws restarts the actor after a backoff
 * (doubling per consecutive failure, capped); the message that crashed it
 * is retried up to `maxAttempts` times, then dead-lettered: counted, logged,
 * published as `system.dead_lettered`, and its asker told. Nothing is lost
 * silently and nothing is retried forever.
 *
 * @module
 */
import { Mailbox } from "../broker/mailbox.ts";
import type { DeliveryFailure } from "../broker/errors.ts";
import type {
  Message,
  MessageType,
  ReplyPayload,
  ReplyPayloadFor,
  RequestType,
} from "../broker/messages.ts";
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
  /** Set when the handler deferred its reply (`ctx.defer`): the runner does not answer it. */
  deferred?: boolean;
}

/** What an asker is told: the reply payload, or why there is none. */
export type DeliveryAnswer<K extends MessageType> =
  | { readonly ok: true; readonly payload: ReplyPayloadFor<K> | undefined }
  | { readonly ok: false; readonly failure: DeliveryFailure };

/** What the runner reports back to its broker. */
export interface RunnerHooks {
  /** The context the actor gets (the runner adds `defer`). */
  readonly context: Omit<ActorContext, "defer">;
  onHandled(message: Message, ms: number): void;
  onFailed(message: Message, error: string, attempt: number): void;
  onDeadLettered(message: Message, error: string, attempts: number): void;
  /** The mailbox crossed its high-water mark, or fell back below the low one. */
  onPressure(depth: number, capacity: number, pressured: boolean): void;
}

/** Pressure is signalled above this share of capacity and cleared below the lower one. */
const PRESSURE_HIGH = 0.8;
const PRESSURE_LOW = 0.5;

/** Runs and supervises one actor. */
export class ActorRunner<S, K extends MessageType> {
  readonly name: string;
  readonly #behaviour: ActorBehaviour<S, K>;
  readonly #options: Required<ActorOptions>;
  readonly #hooks: RunnerHooks;
  readonly #context: ActorContext;
  /** The deliveries being handled now, by message id (for `defer`). */
  #inFlight = new Map<string, Delivery<K>>();
  readonly #mailbox: Mailbox<Delivery<K>>;
  readonly #histogram = new Histogram();
  readonly #log;
  #state: S | undefined;
  #status: ActorStatus = "starting";
  #busy = false;
  #idleWaiters: (() => void)[] = [];
  #loop: Promise<void> | undefined;
  #consecutiveFailures = 0;
  #handled = 0;
  #failed = 0;
  #restarts = 0;
  #deadLetters = 0;
  #pressured = false;

  /** Creates a runner; call {@linkcode ActorRunner.start} to init and run it. */
  constructor(behaviour: ActorBehaviour<S, K>, options: ActorOptions, hooks: RunnerHooks) {
    this.name = behaviour.name;
    this.#behaviour = behaviour;
    this.#options = { ...DEFAULT_ACTOR_OPTIONS, ...options };
    this.#hooks = hooks;
    this.#context = { ...hooks.context, defer: (message) => this.#defer(message) };
    this.#mailbox = new Mailbox(this.#options.mailboxCapacity);
    this.#log = getLogger("actor", behaviour.name);
  }

  /** Runs `init` (throws if it fails the first time) and starts the loop. */
  async start(): Promise<void> {
    this.#state = await this.#behaviour.init(this.#context);
    this.#status = "running";
    this.#loop = this.#run();
  }

  /** Whether the mailbox has room for one more message. */
  hasRoom(): boolean {
    return this.#mailbox.hasRoom();
  }

  /** Queues a delivery if there is room; the caller checked with `hasRoom`. */
  offer(delivery: Delivery<K>): boolean {
    const ok = this.#mailbox.trySend(delivery);
    if (ok) this.#checkPressure();
    return ok;
  }

  /** Resolves when there is room (or the mailbox closed). */
  waitForRoom(): Promise<void> {
    return this.#mailbox.waitForRoom();
  }

  /** True when the mailbox is closed to new messages. */
  get closed(): boolean {
    return this.#mailbox.closed;
  }

  /** True when the mailbox is empty and no message is being handled. */
  get idle(): boolean {
    return !this.#busy && this.#mailbox.depth === 0;
  }

  /** Resolves when the mailbox is empty and no message is being handled. */
  whenIdle(): Promise<void> {
    if (!this.#busy && this.#mailbox.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking messages, handles the queued ones, then terminates the actor. */
  async drain(): Promise<void> {
    if (this.#status === "stopped") return;
    this.#mailbox.close();
    await this.#loop;
    this.#status = "stopping";
    await this.#terminate("shutdown");
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
      this.#busy = false;
      if (this.#mailbox.depth === 0) {
        for (const resolve of this.#idleWaiters.splice(0)) resolve();
      }
    }
    this.#busy = false;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  async #processBatch(batch: Delivery<K>[]): Promise<void> {
    const started = performance.now();
    this.#inFlight = new Map(batch.map((d) => [d.message.id, d]));
    for (const d of batch) d.deferred = false;
    try {
      const result = await this.#behaviour.handleBatch!(
        this.#state as S,
        batch.map((d) => d.message),
        this.#context,
      );
      this.#state = result.state;
      this.#consecutiveFailures = 0;
      const perMessage = (performance.now() - started) / batch.length;
      batch.forEach((delivery, i) => this.#succeed(delivery, result.replies[i], perMessage));
    } catch (error) {
      // Isolate the culprit: count one attempt for each, then retry them one by one.
      const text = errorText(error);
      this.#failed++;
      for (const delivery of batch) delivery.attempts++;
      this.#log.error("Batch of {count} failed in {actor}: {error}", {
        count: batch.length,
        actor: this.name,
        error: text,
      });
      await this.#restart();
      for (const delivery of batch) await this.#processOne(delivery, text);
    }
  }

  async #processOne(delivery: Delivery<K>, previousError = ""): Promise<void> {
    let lastError = previousError;
    while (delivery.attempts < this.#options.maxAttempts) {
      // A retry after a restart: its asker may have stopped waiting meanwhile.
      if (delivery.cancelled) return;
      const started = performance.now();
      this.#inFlight = new Map([[delivery.message.id, delivery]]);
      delivery.deferred = false;
      try {
        const result = await this.#behaviour.handle(
          this.#state as S,
          delivery.message,
          this.#context,
        );
        this.#state = result.state;
        this.#consecutiveFailures = 0;
        this.#succeed(delivery, result.reply, performance.now() - started);
        return;
      } catch (error) {
        lastError = errorText(error);
        delivery.attempts++;
        this.#failed++;
        this.#hooks.onFailed(delivery.message as Message, lastError, delivery.attempts);
        this.#log.error("{actor} failed on {type} (attempt {attempt}): {error}", {
          actor: this.name,
          type: delivery.message.type,
          attempt: delivery.attempts,
          error: lastError,
        });
        await this.#restart();
      }
    }
    this.#deadLetters++;
    this.#hooks.onDeadLettered(delivery.message as Message, lastError, delivery.attempts);
    delivery.answer?.({
      ok: false,
      failure: { kind: "dead_lettered", actor: this.name, error: lastError },
    });
  }

  #succeed(delivery: Delivery<K>, reply: ReplyPayloadFor<K> | undefined, ms: number): void {
    this.#handled++;
    this.#histogram.observe(ms);
    this.#hooks.onHandled(delivery.message as Message, ms);
    if (!delivery.deferred) delivery.answer?.({ ok: true, payload: reply });
  }

  /** `ctx.defer`: marks the delivery of `message` as answered later and returns the answer. */
  #defer<R extends RequestType>(message: Message<R>): (reply: ReplyPayload<R>) => void {
    const delivery = this.#inFlight.get(message.id);
    if (delivery === undefined) {
      throw new Error(`defer called for ${message.type} ${message.id}, which is not being handled`);
    }
    delivery.deferred = true;
    let answered = false;
    return (reply) => {
      if (answered) return;
      answered = true;
      // The delivery is the one of `message` (looked up by its id), so its reply kind is R's.
      delivery.answer?.({ ok: true, payload: reply as ReplyPayloadFor<K> });
    };
  }

  /** Terminates the current state and inits a fresh one after a backoff; retries init until it works. */
  async #restart(): Promise<void> {
    this.#status = "restarting";
    this.#restarts++;
    await this.#terminate("restart");
    while (true) {
      this.#consecutiveFailures++;
      const delay = Math.min(
        this.#options.backoffMaxMs,
        this.#options.backoffInitialMs * 2 ** (this.#consecutiveFailures - 1),
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        this.#state = await this.#behaviour.init(this.#context);
        this.#status = "running";
        return;
      } catch (error) {
        this.#log.error("{actor} could not restart: {error}", {
          actor: this.name,
          error: errorText(error),
        });
      }
    }
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
