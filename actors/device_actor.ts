/**
 * The device actor: owns every device's state, validates and applies
 * commands and readings, checks the sender's grants (so every channel gets
 * the same authorisation), persists changes, and publishes
 * `device.state_changed` for each one applied.
 *
 * Consumes: `device.command`, `device.reading`, `device.query` (requests),
 * `device.snapshot_stored` (event from the storage actor).
 * Emits: `device.state_changed`.
 *
 * Messages that queued up together are applied in order and their changes
 * committed in one transaction before any reply or event goes out.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { DeviceSnapshot, DeviceState, Message, Outcome, Refusal } from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";
import type { DeviceDeclaration, Home, PrincipalDeclaration } from "../config/home.ts";
import { isAllowed } from "../config/home.ts";
import {
  actionsOf,
  applyAction,
  initialState,
  readingValue,
  reconcileState,
} from "../domain/device_types.ts";
import { openDatabase, type SyncMode } from "../persistence/database.ts";
import { DeviceStore, type StoredDevice } from "../persistence/device_store.ts";
import { getLogger } from "../observability/logger.ts";
import type { ActorBehaviour, ActorContext } from "./actor.ts";

/** The kinds the device actor consumes. */
export const DEVICE_TOPICS = [
  "device.command",
  "device.reading",
  "device.query",
  "device.snapshot_stored",
  "config.principals_changed",
] as const;

type DeviceTopic = (typeof DEVICE_TOPICS)[number];

/** One device: its declaration and current state. */
interface DeviceEntry {
  readonly decl: DeviceDeclaration;
  state: DeviceState;
  updatedAt: string | null;
}

/** The device actor's state. */
export interface DeviceActorState {
  readonly db: DatabaseSync;
  readonly store: DeviceStore;
  readonly devices: Map<string, DeviceEntry>;
}

/** Options for {@linkcode createDeviceActor}. */
export interface DeviceActorOptions {
  readonly databasePath: string;
  readonly sync: SyncMode;
  readonly home: Home;
  /**
   * Principals that exist besides those of the home file, e.g. the
   * full-access principal of `TLS_AUTH=none` ({@linkcode anonymousPrincipal}).
   */
  readonly extraPrincipals?: readonly PrincipalDeclaration[];
}

/** The id commands run as when a channel is configured without authentication. */
export const ANONYMOUS_PRINCIPAL_ID = "anonymous";

/**
 * The principal commands run as on a channel configured without
 * authentication (`TLS_AUTH=none`, `UDP_AUTH=none`): every action on every
 * device. Its commands are audited under the id `anonymous`.
 */
export function anonymousPrincipal(): PrincipalDeclaration {
  return {
    id: ANONYMOUS_PRINCIPAL_ID,
    kind: "controller",
    grants: [{ devices: ["*"], actions: ["*"] }],
    channels: ["tls", "udp"],
  };
}

const log = getLogger("device");

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

  const handleMany = (
    state: DeviceActorState,
    messages: readonly Message<DeviceTopic>[],
    ctx: ActorContext,
  ) => {
    const now = new Date(ctx.clock.now()).toISOString();
    const changes: {
      message: Message<DeviceTopic>;
      entry: DeviceEntry;
      state: DeviceState;
      previous: DeviceState;
    }[] = [];
    const replies = messages.map((message) => {
      if (message.type === "config.principals_changed") {
        // Grants change from the next message on; devices are fixed until a restart.
        setPrincipals(message.payload.principals);
        return undefined;
      }
      const result = handleOne(state, message, principals, now);
      if (result.changed) {
        // Capture the state now: a later message of the batch may change the device again.
        changes.push({
          message,
          entry: result.changed,
          state: result.changed.state,
          previous: result.previous,
        });
      }
      return result.reply;
    });
    if (changes.length > 0) {
      const rows = new Map<string, StoredDevice>();
      for (const { entry } of changes) {
        rows.set(entry.decl.id, {
          id: entry.decl.id,
          type: entry.decl.type,
          state: entry.state,
          updatedAt: entry.updatedAt,
        });
      }
      state.store.saveAll([...rows.values()]);
      for (const { message, entry, state: now, previous } of changes) {
        publishChange(ctx, message, entry.decl.id, now, previous);
      }
    }
    return { state, replies };
  };

  return {
    name: "device",
    consumes: DEVICE_TOPICS,
    init() {
      const db = openDatabase(options.databasePath, { sync: options.sync });
      const store = new DeviceStore(db);
      const stored = store.loadAll();
      const devices = new Map<string, DeviceEntry>();
      for (const decl of options.home.devices) {
        const row = stored.get(decl.id);
        const restored = row !== undefined && row.type === decl.type;
        devices.set(decl.id, {
          decl,
          state: restored ? reconcileState(decl, row.state) : initialState(decl),
          updatedAt: restored ? row.updatedAt : null,
        });
      }
      return { db, store, devices };
    },
    handle(state, message, ctx) {
      const { replies } = handleMany(state, [message], ctx);
      const reply = replies[0];
      return reply === undefined ? { state } : { state, reply } as never;
    },
    handleBatch(state, messages, ctx) {
      return Promise.resolve(handleMany(state, messages, ctx) as never);
    },
    terminate(state) {
      state.db.close();
    },
  };
}

type Reply = Outcome<DeviceSnapshot> | Outcome<readonly DeviceSnapshot[]> | undefined;

interface OneResult {
  readonly reply: Reply;
  readonly changed?: DeviceEntry;
  readonly previous: DeviceState;
}

const refused = (code: Refusal["code"], message: string): OneResult => ({
  reply: { ok: false, error: { code, message } },
  previous: {},
});

/** The device kinds: every consumed kind but configuration changes. */
type DeviceRequest = Exclude<DeviceTopic, "config.principals_changed">;

function handleOne(
  state: DeviceActorState,
  message: Message<DeviceRequest>,
  principals: ReadonlyMap<string, PrincipalDeclaration>,
  now: string,
): OneResult {
  if (message.type === "device.snapshot_stored") {
    // An internal event from the storage actor, which already authorised the upload.
    const p = message.payload;
    const entry = state.devices.get(p.device);
    if (entry === undefined || entry.decl.type !== "camera") {
      log.warn("Snapshot stored for {device}, which is not a camera: ignored", {
        device: p.device,
      });
      return { reply: undefined, previous: {} };
    }
    return apply(
      entry,
      {
        ...entry.state,
        lastSnapshot: p.path,
        snapshotSize: p.size,
        snapshotSha256: p.sha256,
        snapshotAt: message.at,
      },
      now,
      undefined,
    );
  }

  const principalId = message.source.principal;
  if (principalId === null) return refused("unauthenticated", "Log in first");
  const principal = principals.get(principalId);
  if (principal === undefined) {
    return refused("unauthenticated", `Unknown principal ${principalId}`);
  }

  if (message.type === "device.query") {
    const id = message.payload.device;
    if (id === null) {
      const visible = [...state.devices.values()].filter((e) => canSee(principal, e.decl.id));
      return { reply: { ok: true, value: visible.map(snapshotOf) }, previous: {} };
    }
    const entry = state.devices.get(id);
    if (entry === undefined) return refused("unknown_device", `No device named '${id}'`);
    if (!canSee(principal, id)) return refused("forbidden", `${principal.id} may not see ${id}`);
    return { reply: { ok: true, value: [snapshotOf(entry)] }, previous: {} };
  }

  const id = message.payload.device;
  const entry = state.devices.get(id);
  if (entry === undefined) return refused("unknown_device", `No device named '${id}'`);
  // A principal with no grant on the device learns nothing more about it (its actions, its metric).
  if (!canSee(principal, id)) {
    const verb = message.type === "device.reading" ? "report for" : message.payload.action;
    return refused("forbidden", `${principal.id} may not ${verb} ${id}`);
  }

  if (message.type === "device.reading") {
    const { metric, value } = message.payload;
    const own = entry.decl.metric ?? "value";
    if (entry.decl.type !== "sensor") {
      return refused("unsupported_action", `${id} (${entry.decl.type}) does not report readings`);
    }
    if (metric !== own) {
      return refused("unsupported_action", `${id} reports ${own}, not '${metric}'`);
    }
    if (!isAllowed(principal, id, "report")) {
      return refused("forbidden", `${principal.id} may not report for ${id}`);
    }
    if (typeof value === "number" && !Number.isFinite(value)) {
      return refused("malformed", "Reading is not a finite number");
    }
    const checked = typeof value === "string" ? readingValue(value) : { ok: true as const, value };
    if (!checked.ok) return refused("malformed", checked.message);
    return apply(entry, { ...entry.state, [own]: checked.value }, now, entry);
  }

  const { action, args } = message.payload;
  if (!actionsOf(entry.decl).includes(action)) {
    // applyAction words the refusal (lists the actions this device has).
    const outcome = applyAction(entry.decl, entry.state, action, args);
    return { reply: outcome as Outcome<never>, previous: {} };
  }
  if (!isAllowed(principal, id, action)) {
    return refused("forbidden", `${principal.id} may not ${action} ${id}`);
  }
  const outcome = applyAction(entry.decl, entry.state, action, args);
  if (!outcome.ok) return { reply: outcome, previous: {} };
  return apply(entry, outcome.value, now, entry);
}

/** Applies a new state to an entry; the reply (when `replyFor`) is its snapshot. */
function apply(
  entry: DeviceEntry,
  next: DeviceState,
  now: string,
  replyFor: DeviceEntry | undefined,
): OneResult {
  const previous = entry.state;
  entry.state = next;
  entry.updatedAt = now;
  return {
    reply: replyFor ? { ok: true, value: snapshotOf(entry) } : undefined,
    changed: entry,
    previous,
  };
}

function canSee(principal: PrincipalDeclaration, device: string): boolean {
  return principal.grants.some((g) => g.devices.includes("*") || g.devices.includes(device));
}

function snapshotOf(entry: DeviceEntry): DeviceSnapshot {
  return {
    id: entry.decl.id,
    type: entry.decl.type,
    name: entry.decl.name,
    room: entry.decl.room,
    state: entry.state,
    updatedAt: entry.updatedAt,
  };
}

function publishChange(
  ctx: ActorContext,
  cause: Message<DeviceTopic>,
  device: string,
  state: DeviceState,
  previous: DeviceState,
): void {
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
