/**
 * One batch of the device actor: each queued request decided in turn, then
 * the audit entries of the whole batch committed with the changed state
 * rows in ONE transaction; only then answered and published. If the commit
 * fails the in-memory state is rolled back and every request refused.
 *
 * @module
 */
import type {
  DeviceAdapterCommandPayload,
  DeviceState,
  Json,
  Message,
} from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";
import type { PrincipalDeclaration } from "../config/home.ts";
import { decide, type DeviceRecord, snapshotOf } from "../domain/device_requests.ts";
import type { AuditEntryInput } from "../persistence/audit_store.ts";
import type { StoredDevice } from "../persistence/device_store.ts";
import type { AuditMetrics } from "../observability/audit_metrics.ts";
import { getLogger } from "../observability/logger.ts";
import type { ActorContext } from "./actor.ts";
import { commandEntry, snapshotEntry } from "./device_journal_entries.ts";
import {
  type RealBatch,
  type RealRecord,
  takeBoundCommand,
  takeReport,
  takeTimeout,
} from "./device_real.ts";
import { bindingsOf, listDiscovered, takeAdopt, takeRemove } from "./device_lifecycle.ts";
import type { DeviceActorState, DeviceTopic } from "./device_state.ts";

/** Why every command of a batch is refused when its commit failed. */
const NOT_RECORDED = {
  code: "internal",
  message: "The change could not be recorded in the audit log, so nothing was applied",
} as const;

const log = getLogger("device");

/** A change decided in this batch, published once committed. */
interface PendingChange {
  readonly cause: Message<DeviceTopic>;
  readonly device: string;
  readonly state: DeviceState;
  readonly previous: DeviceState;
}

/** One batch: decided request by request, then committed (or rolled back) as a whole. */
export class DeviceBatch implements RealBatch {
  readonly #state: DeviceActorState;
  readonly #principals: ReadonlyMap<string, PrincipalDeclaration>;
  readonly #ctx: ActorContext;
  readonly #now: string;
  /** Each changed device's state before the batch (for a rollback). */
  readonly #before = new Map<string, { state: DeviceState; updatedAt: string | null }>();
  readonly #entries: AuditEntryInput[] = [];
  readonly #changes: PendingChange[] = [];
  readonly #answers: (() => void)[] = [];
  readonly #sends: DeviceAdapterCommandPayload[] = [];
  #bindingsChanged = false;

  constructor(
    state: DeviceActorState,
    principals: ReadonlyMap<string, PrincipalDeclaration>,
    ctx: ActorContext,
  ) {
    this.#state = state;
    this.#principals = principals;
    this.#ctx = ctx;
    this.#now = new Date(ctx.clock.now()).toISOString();
  }

  get now(): string {
    return this.#now;
  }

  change(
    cause: Message<"device.command"> | Message<"device.report">,
    device: DeviceRecord,
    next: DeviceState,
  ): void {
    this.#change(cause, device, next);
  }

  journal(entry: AuditEntryInput): void {
    this.#entries.push(entry);
  }

  afterCommit(work: () => void): void {
    this.#answers.push(work);
  }

  send(command: DeviceAdapterCommandPayload): void {
    this.#sends.push(command);
  }

  bindingsChanged(): void {
    this.#bindingsChanged = true;
  }

  /** Decides one message; its answer waits for the commit. */
  take(message: Message<BatchTopic>): void {
    if (message.type === "device.snapshot_stored") return this.#snapshot(message);
    if (this.#takeReal(message)) return;
    const decision = decide(this.#state.devices, this.#principals, message);
    const ctx = this.#ctx;
    if (decision.kind === "refused") {
      if (message.type !== "device.query") {
        this.#entries.push(commandEntry(message, { refused: decision.error }));
      }
      this.#answers.push(() => ctx.reply(message, { ok: false, error: decision.error }));
    } else if (decision.kind === "visible") {
      if (message.type !== "device.query") return;
      const value = decision.devices.map(snapshotOf);
      this.#answers.push(() => ctx.reply(message, { ok: true, value }));
    } else if (message.type !== "device.query") {
      if (
        message.type === "device.command" &&
        takeBoundCommand(this.#state.real, this, message, decision.device, decision.next, ctx)
      ) return;
      this.#change(message, decision.device, decision.next);
      const snapshot = snapshotOf(decision.device);
      this.#entries.push(commandEntry(message, { state: decision.next as Json }));
      this.#answers.push(() => ctx.reply(message, { ok: true, value: snapshot }));
    }
  }

  /** Real-device kinds (issue 11); false for the others. */
  #takeReal(message: Message<BatchTopic>): message is Message<RealTopic> {
    const real = this.#state.real;
    const ctx = this.#ctx;
    const principal = () =>
      message.source.principal === null
        ? undefined
        : this.#principals.get(message.source.principal);
    switch (message.type) {
      case "device.report":
        takeReport(real, this, message, ctx);
        return true;
      case "device.confirm_timeout":
        takeTimeout(real, this, message, ctx);
        return true;
      case "device.adopt":
        takeAdopt(real, this, message, principal(), ctx);
        return true;
      case "device.remove":
        takeRemove(real, this, message, principal(), ctx);
        return true;
      case "device.list_discovered": {
        const answer = principal() === undefined
          ? {
            ok: false as const,
            error: { code: "unauthenticated" as const, message: "Log in first" },
          }
          : listDiscovered(real);
        this.#answers.push(() => ctx.reply(message, answer));
        return true;
      }
      default:
        return false;
    }
  }

  /** Journals the batch in one transaction, then answers and publishes; or rolls it back. */
  commit(messages: readonly Message<DeviceTopic>[], metrics: AuditMetrics | undefined): void {
    if (this.#entries.length > 0) {
      const rows: StoredDevice[] = [...this.#before.keys()].map((id) => {
        const d = this.#state.devices.get(id)!;
        return { id, type: d.decl.type, state: d.state, updatedAt: d.updatedAt };
      });
      try {
        this.#state.journal.commit(this.#entries, rows);
        metrics?.recordCommit(this.#entries.length);
      } catch (error) {
        rollBack(this.#state, this.#before, messages, this.#principals, this.#ctx, error);
        return;
      }
    }
    for (const answer of this.#answers) answer();
    for (const c of this.#changes) publishChange(this.#ctx, c);
    // Real devices: commands out to the bridge, and the bindings it follows.
    for (const command of this.#sends) {
      this.#ctx.publish(
        createMessage("device.adapter_command", command, SYSTEM_SOURCE, { clock: this.#ctx.clock }),
      );
    }
    if (this.#bindingsChanged) publishBindings(this.#ctx, this.#state.devices);
  }

  #snapshot(message: Message<"device.snapshot_stored">): void {
    const p = message.payload;
    const camera = this.#state.devices.get(p.device);
    if (camera === undefined || camera.decl.type !== "camera") {
      log.warn("Snapshot stored for {device}, which is not a camera: ignored", {
        device: p.device,
      });
      return;
    }
    this.#change(message, camera, {
      ...camera.state,
      lastSnapshot: p.path,
      snapshotSize: p.size,
      snapshotSha256: p.sha256,
      snapshotAt: message.at,
    });
    this.#entries.push(snapshotEntry(message));
  }

  #change(cause: Message<DeviceTopic>, device: DeviceRecord, next: DeviceState): void {
    if (!this.#before.has(device.decl.id)) {
      this.#before.set(device.decl.id, { state: device.state, updatedAt: device.updatedAt });
    }
    this.#changes.push({ cause, device: device.decl.id, state: next, previous: device.state });
    device.state = next;
    device.updatedAt = this.#now;
  }
}

/** Undoes a batch whose commit failed and refuses its requests: nothing was applied. */
function rollBack(
  state: DeviceActorState,
  before: ReadonlyMap<string, { state: DeviceState; updatedAt: string | null }>,
  messages: readonly Message<DeviceTopic>[],
  principals: ReadonlyMap<string, PrincipalDeclaration>,
  ctx: ActorContext,
  error: unknown,
): void {
  for (const [id, was] of before) {
    const device = state.devices.get(id)!;
    device.state = was.state;
    device.updatedAt = was.updatedAt;
  }
  log.error("Could not record a batch of {count} requests, nothing applied: {error}", {
    count: messages.length,
    error: error instanceof Error ? error.message : String(error),
  });
  for (const message of messages) {
    if (
      message.type === "device.command" || message.type === "device.reading" ||
      message.type === "device.adopt" || message.type === "device.remove" ||
      message.type === "device.report"
    ) {
      ctx.reply(message, { ok: false, error: NOT_RECORDED });
    } else if (message.type === "device.query") {
      // Queries are answered from the committed state, whatever the batch tried.
      const decision = decide(state.devices, principals, message);
      ctx.reply(
        message,
        decision.kind === "visible"
          ? { ok: true, value: decision.devices.map(snapshotOf) }
          : { ok: false, error: decision.kind === "refused" ? decision.error : NOT_RECORDED },
      );
    }
  }
}

/** The kinds a batch takes (the others change the actor's settings, not devices). */
type BatchTopic = Exclude<
  DeviceTopic,
  | "config.principals_changed"
  | "mqtt.connection_changed"
  | "device.discovered"
  | "config.devices_changed"
>;

/** The real-device kinds a batch takes. */
type RealTopic =
  | "device.report"
  | "device.confirm_timeout"
  | "device.adopt"
  | "device.remove"
  | "device.list_discovered";

/** Where the device actor's own messages (commands to the bridge, bindings) come from. */
const SYSTEM_SOURCE = { principal: null, channel: "system" } as const;

/** Tells the bridge which devices are bound now. */
export function publishBindings(
  ctx: Pick<ActorContext, "publish" | "clock">,
  devices: ReadonlyMap<string, RealRecord>,
): void {
  ctx.publish(
    createMessage("device.bindings_changed", bindingsOf(devices), SYSTEM_SOURCE, {
      clock: ctx.clock,
    }),
  );
}

/** Publishes one committed change (a refused publish is logged). */
function publishChange(ctx: ActorContext, change: PendingChange): void {
  const { cause, device, state, previous } = change;
  const event = createMessage(
    "device.state_changed",
    { device, state, previous, cause: cause.id },
    cause.source,
    { correlationId: cause.id, clock: ctx.clock },
  );
  const result = ctx.publish(event);
  if (!result.ok) {
    log.warn("Could not publish the change of {device}: {kind}", {
      device,
      kind: result.failure.kind,
    });
  }
}
