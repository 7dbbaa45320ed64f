/**
 * The device actor: owns every device's state and the one command path's
 * transaction. For each batch of queued requests it decides each one
 * (validation against the device type and the sender's grants, in
 * `domain/device_requests.ts`), then commits the audit entries of the whole
 * batch together with the changed state rows in ONE transaction (group
 * commit), and only then replies and publishes `device.state_changed`. If
 * the commit fails nothing is applied: the in-memory state is rolled back,
 * no event goes out, and every command of the batch is refused.
 *
 * Consumes: `device.command`, `device.reading`, `device.query` (requests),
 * `device.snapshot_stored` (event from the storage actor),
 * `config.principals_changed`; for real devices (issue 11, device_real.ts,
 * device_lifecycle.ts): `device.report`, `device.adopt`, `device.remove`,
 * `device.list_discovered` (requests), `device.confirm_timeout`,
 * `device.discovered`, `mqtt.connection_changed`, `config.devices_changed`.
 * Emits: `device.state_changed`, and `device.adapter_command` and
 * `device.bindings_changed` for the MQTT bridge.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type {
  DeviceAdapterCommandPayload,
  DeviceState,
  DiscoveredDevice,
  Json,
  Message,
} from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";
import type { DeviceDeclaration, Home, PrincipalDeclaration } from "../config/home.ts";
import { initialState, reconcileState } from "../domain/device_types.ts";
import { decide, type DeviceRecord, snapshotOf } from "../domain/device_requests.ts";
import { openDatabase, type SyncMode } from "../persistence/database.ts";
import { Journal } from "../persistence/journal.ts";
import type { AuditEntryInput } from "../persistence/audit_store.ts";
import type { StoredDevice } from "../persistence/device_store.ts";
import type { AuditMetrics } from "../observability/audit_metrics.ts";
import { getLogger } from "../observability/logger.ts";
import type { ActorBehaviour, ActorContext } from "./actor.ts";
import { commandEntry, snapshotEntry } from "./device_journal_entries.ts";
import { AdoptedDeviceStore } from "../persistence/adopted_device_store.ts";
import { DeviceBindings, type SetTimer } from "./device_bindings.ts";
import {
  type RealBatch,
  type RealDeviceState,
  type RealRecord,
  takeBoundCommand,
  takeReport,
  takeTimeout,
} from "./device_real.ts";
import {
  applyDeclared,
  bindingsOf,
  listDiscovered,
  setDiscovered,
  takeAdopt,
  takeRemove,
} from "./device_lifecycle.ts";

/** The kinds the device actor consumes. */
export const DEVICE_TOPICS = [
  "device.command",
  "device.reading",
  "device.query",
  "device.snapshot_stored",
  "config.principals_changed",
  // real devices (issue 11)
  "device.report",
  "device.adopt",
  "device.remove",
  "device.list_discovered",
  "device.confirm_timeout",
  "device.discovered",
  "mqtt.connection_changed",
  "config.devices_changed",
] as const;

type DeviceTopic = (typeof DEVICE_TOPICS)[number];

/** The device actor's state. */
export interface DeviceActorState {
  readonly db: DatabaseSync;
  readonly journal: Journal;
  readonly devices: Map<string, RealRecord>;
  /** Real devices (issue 11): bindings, discovery, adopted devices. */
  readonly real: RealDeviceState;
}

/** Options for {@linkcode createDeviceActor}. */
export interface DeviceActorOptions {
  readonly databasePath: string;
  readonly sync: SyncMode;
  readonly home: Home;
  /** Principals that exist besides those of the home file (the anonymous one of `*_AUTH=none`). */
  readonly extraPrincipals?: readonly PrincipalDeclaration[];
  /** Updated at each journal commit, for /metrics (shared with the audit actor's). */
  readonly metrics?: AuditMetrics;
  /** Real devices (issue 11): how long a bound device has to confirm a command. */
  readonly confirmTimeoutMs?: number;
  /** Real devices: timers for confirmations (tests may inject). */
  readonly setTimer?: SetTimer;
}

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

/** Creates the device actor's behaviour. */
export function createDeviceActor(
  options: DeviceActorOptions,
): ActorBehaviour<DeviceActorState, DeviceTopic> {
  const principals = new Map<string, PrincipalDeclaration>();
  const setPrincipals = (declared: readonly PrincipalDeclaration[]) => {
    principals.clear();
    for (const p of declared) principals.set(p.id, p);
    for (const p of options.extraPrincipals ?? []) principals.set(p.id, p);
  };
  setPrincipals(options.home.principals);
  // Real devices (issue 11): kept across restarts of the actor, like the principals.
  const bindings = new DeviceBindings({
    confirmTimeoutMs: options.confirmTimeoutMs ?? 3000,
    ...(options.setTimer ? { setTimer: options.setTimer } : {}),
  });
  const discovered = new Map<string, ReadonlyMap<string, DiscoveredDevice>>();
  /** The home file's devices as last loaded (start or SIGHUP): a restarted actor starts from them. */
  let declared: readonly DeviceDeclaration[] = options.home.devices;

  const handleMany = (
    state: DeviceActorState,
    messages: readonly Message<DeviceTopic>[],
    ctx: ActorContext,
  ): DeviceActorState => {
    const batch = new DeviceBatch(state, principals, ctx);
    for (const message of messages) {
      // Grants change from the next message on.
      if (message.type === "config.principals_changed") setPrincipals(message.payload.principals);
      else if (message.type === "mqtt.connection_changed") {
        bindings.setBridge(message.payload.connected, message.payload.reason);
      } else if (message.type === "device.discovered") setDiscovered(state.real, message);
      else if (message.type === "config.devices_changed") {
        declared = message.payload.devices;
        if (applyDeclared(state.real, declared, state.journal.loadDevices())) {
          batch.bindingsChanged();
        }
      } else batch.take(message);
    }
    batch.commit(messages, options.metrics);
    return state;
  };

  return {
    name: "device",
    consumes: DEVICE_TOPICS,
    init(ctx) {
      const db = openDatabase(options.databasePath, { sync: options.sync });
      const journal = new Journal(db);
      const stored = journal.loadDevices();
      const devices = new Map<string, RealRecord>();
      for (const decl of declared) {
        const row = stored.get(decl.id);
        const restored = row !== undefined && row.type === decl.type;
        if (row !== undefined && !restored) {
          log.warn("Device {device}: stored state is for type {stored}, not {type}; reset", {
            device: decl.id,
            stored: row.type,
            type: decl.type,
          });
        }
        devices.set(decl.id, {
          decl,
          state: restored ? reconcileState(decl, row.state) : initialState(decl),
          updatedAt: restored ? row.updatedAt : null,
        });
      }
      const adopted = new AdoptedDeviceStore(db);
      const loaded = adopted.loadAll();
      for (const a of loaded.devices) {
        if (devices.has(a.decl.id)) {
          log.warn("Adopted device {id} is also declared in the home file: the home file wins", {
            id: a.decl.id,
          });
          continue;
        }
        const row = stored.get(a.decl.id);
        const restored = row !== undefined && row.type === a.decl.type;
        devices.set(a.decl.id, {
          decl: a.decl,
          state: restored ? reconcileState(a.decl, row.state) : initialState(a.decl),
          updatedAt: restored ? row.updatedAt : null,
          adopted: true,
        });
      }
      for (const id of loaded.skipped) {
        log.warn("Adopted device {id} is no longer valid: skipped", { id });
      }
      const real: RealDeviceState = { devices, adopted, bindings, discovered };
      publishBindings(ctx, devices);
      return { db, journal, devices, real };
    },
    handle(state, message, ctx) {
      return { state: handleMany(state, [message], ctx) };
    },
    handleBatch(state, messages, ctx) {
      return handleMany(state, messages, ctx);
    },
    terminate(state) {
      state.db.close();
    },
  };
}

/** One batch: decided request by request, then committed (or rolled back) as a whole. */
class DeviceBatch implements RealBatch {
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
function publishBindings(
  ctx: Pick<ActorContext, "publish" | "clock">,
  devices: ReadonlyMap<string, RealRecord>,
): void {
  ctx.publish(
    createMessage("device.bindings_changed", bindingsOf(devices), SYSTEM_SOURCE, {
      clock: ctx.clock,
    }),
  );
}

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
