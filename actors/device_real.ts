/**
 * The device actor's handling of real devices (issue 11), kept apart from
 * the simulated-device rules: commands to bound devices (sent through the
 * MQTT bridge and confirmed by the device's report), reports from hardware,
 * discovered devices, adoption and removal at run time.
 *
 * Every function here is called from the device actor's handler, with the
 * actor's state; none does I/O besides the actor's own database.
 *
 * @module
 */
import type {
  BindingsChangedPayload,
  DeviceAdapterCommandPayload,
  DeviceBinding,
  DeviceReportResult,
  DeviceSnapshot,
  DeviceState,
  DiscoveredDevice,
  Message,
  Outcome,
  Refusal,
} from "../broker/messages.ts";
import type { DeviceDeclaration, PrincipalDeclaration } from "../config/home.ts";
import { isAllowed, parseDeviceDeclaration } from "../config/home.ts";
import { initialState, reconcileState } from "../config/device_types.ts";
import type { AdoptedDeviceStore } from "../persistence/adopted_device_store.ts";
import type { DeviceBindings } from "./device_bindings.ts";
import { getLogger } from "../observability/logger.ts";

const log = getLogger("device");

/** One device of the actor: its declaration and current state (shared with device_actor.ts). */
export interface RealDeviceEntry {
  readonly decl: DeviceDeclaration;
  state: DeviceState;
  updatedAt: string | null;
  /** True for devices adopted at run time (removable). */
  adopted?: boolean;
}

/** What handling one real-device message gives the actor. */
export interface RealResult {
  readonly reply:
    | Outcome<DeviceSnapshot>
    | Outcome<DeviceReportResult>
    | Outcome<readonly DiscoveredDevice[]>;
  /** The entry whose state changed (saved with the batch). */
  readonly changed?: RealDeviceEntry;
  readonly previous: DeviceState;
  /** Runs once the batch is committed (confirmations). */
  readonly after?: readonly (() => void)[];
  /** Messages for the bridge, published after the commit. */
  readonly adapterCommands?: readonly DeviceAdapterCommandPayload[];
  /** The bindings changed (adoption, removal): publish the new list. */
  readonly bindingsChanged?: boolean;
}

/** The real-device parts of the actor's state. */
export interface RealDeviceState {
  readonly devices: Map<string, RealDeviceEntry>;
  readonly adopted: AdoptedDeviceStore;
  readonly bindings: DeviceBindings;
  /** Discovered devices by source (`zigbee2mqtt`, `homeassistant`), each by key. */
  readonly discovered: Map<string, ReadonlyMap<string, DiscoveredDevice>>;
}

const no = (code: Refusal["code"], message: string): RealResult => ({
  reply: { ok: false, error: { code, message } },
  previous: {},
});

/** The snapshot of an entry. */
export function snapshotOfEntry(entry: RealDeviceEntry): DeviceSnapshot {
  return {
    id: entry.decl.id,
    type: entry.decl.type,
    name: entry.decl.name,
    room: entry.decl.room,
    state: entry.state,
    updatedAt: entry.updatedAt,
  };
}

/** The adapter command for a validated command to a bound device. */
export function adapterCommand(
  entry: RealDeviceEntry,
  message: Message<"device.command">,
  desired: DeviceState,
): DeviceAdapterCommandPayload | undefined {
  const binding = entry.decl.binding;
  if (binding === undefined) return undefined;
  return {
    device: entry.decl.id,
    deviceType: entry.decl.type,
    binding: binding as DeviceBinding,
    action: message.payload.action,
    args: message.payload.args,
    desired,
    command: message.id,
  };
}

/**
 * A validated command to `entry`: undefined when the device is simulated,
 * `{optimistic}` (the command to publish) when it is applied now, else the refusal or the
 * deferred answer (the device's confirmation) with the command for the bridge.
 */
export function boundCommand(
  real: RealDeviceState,
  entry: RealDeviceEntry,
  message: Message<"device.command">,
  desired: DeviceState,
):
  | undefined
  | { readonly optimistic: DeviceAdapterCommandPayload }
  | {
    readonly reply: undefined | Outcome<DeviceSnapshot>;
    readonly previous: DeviceState;
    readonly adapterCommands?: readonly DeviceAdapterCommandPayload[];
    readonly deferWith?: (answer: (outcome: Outcome<DeviceSnapshot>) => void) => void;
  } {
  const command = adapterCommand(entry, message, desired);
  if (command === undefined) return undefined;
  const refusal = real.bindings.refusal(entry.decl.id);
  if (refusal) return { reply: { ok: false, error: refusal }, previous: {} };
  if (entry.decl.binding?.optimistic) return { optimistic: command };
  return {
    reply: undefined,
    previous: {},
    adapterCommands: [command],
    deferWith: (answer) =>
      real.bindings.await({
        command: message.id,
        device: entry.decl.id,
        action: message.payload.action,
        desired,
        timeoutMs: entry.decl.binding?.confirmTimeoutMs,
      }, answer),
  };
}

/** SIGHUP's devices applied to the actor's devices (see {@linkcode replaceDeclared}); true when any changed. */
export function applyDeclared(
  real: RealDeviceState,
  declared: readonly DeviceDeclaration[],
  stored: ReadonlyMap<string, { type: string; state: DeviceState; updatedAt: string | null }>,
): boolean {
  const change = replaceDeclared(real, declared, (id) => stored.get(id));
  const count = change.added.length + change.removed.length + change.replaced.length;
  if (count === 0) return false;
  log.info("Home file reloaded: devices added {added}, removed {removed}, changed {replaced}", {
    added: change.added.join(",") || "-",
    removed: change.removed.join(",") || "-",
    replaced: change.replaced.join(",") || "-",
  });
  return true;
}

/** The bound devices, for the bridge. */
export function bindingsOf(devices: ReadonlyMap<string, RealDeviceEntry>): BindingsChangedPayload {
  const out: BindingsChangedPayload["devices"][number][] = [];
  for (const e of devices.values()) {
    if (e.decl.binding === undefined) continue;
    out.push({
      id: e.decl.id,
      type: e.decl.type,
      binding: {
        ...(e.decl.binding as DeviceBinding),
        ...(e.decl.dimmable ? { dimmable: true } : {}),
        ...(e.decl.metric ? { metric: e.decl.metric } : {}),
      },
    });
  }
  return { devices: out };
}

/** A report from hardware (`device.report`, from the bridge through the command path). */
export function handleReport(
  real: RealDeviceState,
  message: Message<"device.report">,
  now: string,
): RealResult {
  if (message.source.channel !== "mqtt") {
    return no("forbidden", "Reports from hardware come from the MQTT bridge only");
  }
  const p = message.payload;
  const entry = real.devices.get(p.device);
  if (entry === undefined) return no("unknown_device", `No device named '${p.device}'`);
  if (entry.decl.binding === undefined) {
    return no("unsupported_action", `${p.device} is not bound to a real device`);
  }
  const reply = (changed: boolean, confirmed: readonly string[]): Outcome<DeviceReportResult> => ({
    ok: true,
    value: { snapshot: snapshotOfEntry(entry), changed, confirmed },
  });
  if (p.sendFailed) {
    real.bindings.sendFailed(p.sendFailed.command, p.sendFailed.reason);
    return { reply: reply(false, []), previous: {} };
  }
  if (p.online !== undefined) {
    const was = real.bindings.online(p.device);
    real.bindings.setOnline(p.device, p.online);
    return { reply: reply(was !== p.online, []), previous: {} };
  }
  if (p.state === undefined) {
    return no("malformed", "A report carries state, availability or a send failure");
  }
  // Availability changes only by the device's availability topic (its LWT), never by a state report.
  const next = reconcileState(entry.decl, { ...entry.state, ...p.state });
  const changed = Object.keys(next).some((k) => next[k] !== entry.state[k]);
  const matches = real.bindings.matched(p.device, next);
  const confirmed = matches.map((m) => m.command);
  if (!changed) {
    return {
      reply: reply(false, confirmed),
      previous: {},
      after: matches.map((m) => () => m.confirm(snapshotOfEntry(entry))),
    };
  }
  const previous = entry.state;
  entry.state = next;
  entry.updatedAt = now;
  return {
    reply: reply(true, confirmed),
    changed: entry,
    previous,
    after: matches.map((m) => () => m.confirm(snapshotOfEntry(entry))),
  };
}

/** Every discovered device not adopted yet, for a principal who may adopt. */
export function listDiscovered(real: RealDeviceState): Outcome<readonly DiscoveredDevice[]> {
  const adoptedKeys = new Set(real.adopted.loadAll().devices.map((d) => d.key));
  const out: DiscoveredDevice[] = [];
  for (const list of real.discovered.values()) {
    for (const d of list.values()) if (!adoptedKeys.has(d.key)) out.push(d);
  }
  out.sort((a, b) => a.key.localeCompare(b.key));
  return { ok: true, value: out };
}

/** Adopts a discovered device: validated, persisted, controllable at once. */
export function handleAdopt(
  real: RealDeviceState,
  message: Message<"device.adopt">,
  principal: PrincipalDeclaration,
  now: string,
): RealResult {
  const p = message.payload;
  if (!isAllowed(principal, p.id, "adopt")) {
    return no("forbidden", `${principal.id} may not adopt devices as ${p.id}`);
  }
  let found: DiscoveredDevice | undefined;
  for (const list of real.discovered.values()) found ??= list.get(p.key);
  if (found === undefined) {
    return no("not_found", `No discovered device '${p.key}': see device discovered`);
  }
  if (real.devices.has(p.id)) return no("exists", `A device named '${p.id}' exists already`);
  if (real.adopted.loadAll().devices.some((d) => d.key === p.key)) {
    return no("exists", `${p.key} is adopted already`);
  }
  const type = p.type ?? found.suggestedType;
  const draft: Record<string, unknown> = {
    id: p.id,
    type,
    name: p.name,
    room: p.room,
    binding: found.binding,
  };
  if (type === "light" && found.dimmable) draft.dimmable = true;
  if (type === "sensor") {
    draft.metric = found.metric ?? "value";
    if (found.unit !== undefined) draft.unit = found.unit;
  }
  const decl = parseDeviceDeclaration(draft);
  if (!decl.ok) return no("malformed", decl.message);
  real.adopted.insert({ decl: decl.value, key: p.key, adoptedBy: principal.id, adoptedAt: now });
  const entry: RealDeviceEntry = {
    decl: decl.value,
    state: initialState(decl.value),
    updatedAt: null,
    adopted: true,
  };
  real.devices.set(p.id, entry);
  return {
    reply: { ok: true, value: snapshotOfEntry(entry) },
    previous: {},
    bindingsChanged: true,
  };
}

/** Removes a device adopted at run time (home-file devices are removed by editing the file). */
export function handleRemove(
  real: RealDeviceState,
  message: Message<"device.remove">,
  principal: PrincipalDeclaration,
): RealResult {
  const id = message.payload.device;
  const entry = real.devices.get(id);
  if (entry === undefined) return no("unknown_device", `No device named '${id}'`);
  if (!isAllowed(principal, id, "remove")) {
    return no("forbidden", `${principal.id} may not remove ${id}`);
  }
  if (!entry.adopted) {
    return no(
      "unsupported_action",
      `${id} is declared in the home file: remove it there and reload`,
    );
  }
  real.adopted.remove(id);
  real.devices.delete(id);
  real.bindings.forget(id);
  return {
    reply: { ok: true, value: snapshotOfEntry(entry) },
    previous: {},
    bindingsChanged: true,
  };
}

/** Most discovered devices kept per source. */
const MAX_DISCOVERED_PER_SOURCE = 500;

/** Replaces the discovered devices of one source. */
export function setDiscovered(real: RealDeviceState, message: Message<"device.discovered">): void {
  const list = new Map<string, DiscoveredDevice>();
  for (const d of message.payload.devices.slice(0, MAX_DISCOVERED_PER_SOURCE)) list.set(d.key, d);
  real.discovered.set(message.payload.source.slice(0, 40), list);
}

/** What a SIGHUP did to the declared devices. */
export interface DeclaredDevicesChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly replaced: readonly string[];
}

/**
 * SIGHUP: makes the home file's devices those of `declared`. New ones start
 * from their stored state (or fresh), changed declarations keep the state
 * that still fits, devices no longer declared are removed (adopted devices
 * are left alone; a declared device wins over an adopted one only at start).
 */
export function replaceDeclared(
  real: RealDeviceState,
  declared: readonly DeviceDeclaration[],
  stored: (
    id: string,
  ) => { type: string; state: DeviceState; updatedAt: string | null } | undefined,
): DeclaredDevicesChange {
  const added: string[] = [];
  const removed: string[] = [];
  const replaced: string[] = [];
  const wanted = new Map(declared.map((d) => [d.id, d]));
  for (const [id, entry] of [...real.devices]) {
    if (entry.adopted || wanted.has(id)) continue;
    real.devices.delete(id);
    real.bindings.forget(id);
    removed.push(id);
  }
  for (const decl of declared) {
    const entry = real.devices.get(decl.id);
    if (entry?.adopted) continue;
    if (entry && JSON.stringify(entry.decl) === JSON.stringify(decl)) continue;
    const row = entry
      ? { type: entry.decl.type, state: entry.state, updatedAt: entry.updatedAt }
      : stored(decl.id);
    const keep = row !== undefined && row.type === decl.type;
    real.devices.set(decl.id, {
      decl,
      state: keep ? reconcileState(decl, row.state) : initialState(decl),
      updatedAt: keep ? row.updatedAt : null,
    });
    if (entry) {
      real.bindings.forget(decl.id);
      replaced.push(decl.id);
    } else added.push(decl.id);
  }
  return { added, removed, replaced };
}
