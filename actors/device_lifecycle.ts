/**
 * Devices that come and go at run time (issue 11): discovered devices (from
 * the MQTT bridge), adoption and removal (journaled with the device actor's
 * batch, answered after its commit), SIGHUP's declared devices, and the list
 * of bound devices the bridge follows.
 *
 * @module
 */
import type {
  BindingsChangedPayload,
  DeviceState,
  DiscoveredDevice,
  Json,
  Message,
  Outcome,
  Refusal,
} from "../broker/messages.ts";
import type { DeviceDeclaration, PrincipalDeclaration } from "../config/home.ts";
import { parseDeviceDeclaration } from "../config/home.ts";
import { isAllowed } from "../domain/grants.ts";
import { initialState, reconcileState } from "../domain/device_types.ts";
import { snapshotOf } from "../domain/device_requests.ts";
import type { AuditEntryInput } from "../persistence/audit_store.ts";
import { getLogger } from "../observability/logger.ts";
import type { ActorContext } from "./actor.ts";
import {
  failPending,
  type RealBatch,
  type RealDeviceState,
  type RealRecord,
  toJsonBinding,
} from "./device_real.ts";

const log = getLogger("device");

/** Every discovered device not adopted yet. */
export function listDiscovered(real: RealDeviceState): Outcome<readonly DiscoveredDevice[]> {
  const adoptedKeys = new Set(real.adopted.loadAll().devices.map((d) => d.key));
  const out: DiscoveredDevice[] = [];
  for (const list of real.discovered.values()) {
    for (const d of list.values()) if (!adoptedKeys.has(d.key)) out.push(d);
  }
  out.sort((a, b) => a.key.localeCompare(b.key));
  return { ok: true, value: out };
}

/** The audit entry of an adoption or removal. */
function lifecycleEntry(
  message: Message<"device.adopt"> | Message<"device.remove">,
  device: string,
  result: { refused: Refusal } | { detail: Record<string, Json> },
): AuditEntryInput {
  return {
    at: message.at,
    messageId: message.id,
    principal: message.source.principal,
    channel: message.source.channel,
    address: message.source.address ?? null,
    action: message.type,
    device,
    outcome: "refused" in result ? "rejected" : "ok",
    code: "refused" in result ? result.refused.code : null,
    detail: JSON.stringify(
      "refused" in result ? { message: result.refused.message } : result.detail,
    ),
  };
}

/** Adopts a discovered device: validated, persisted, controllable at once, audited. */
export function takeAdopt(
  real: RealDeviceState,
  batch: RealBatch,
  message: Message<"device.adopt">,
  principal: PrincipalDeclaration | undefined,
  ctx: ActorContext,
): void {
  const p = message.payload;
  const refuse = (code: Refusal["code"], text: string) => {
    const error = { code, message: text };
    batch.journal(lifecycleEntry(message, p.id, { refused: error }));
    batch.afterCommit(() => ctx.reply(message, { ok: false, error }));
  };
  if (principal === undefined) return refuse("unauthenticated", "Log in first");
  if (!isAllowed(principal, p.id, "adopt")) {
    return refuse("forbidden", `${principal.id} may not adopt devices as ${p.id}`);
  }
  let found: DiscoveredDevice | undefined;
  for (const list of real.discovered.values()) found ??= list.get(p.key);
  if (found === undefined) {
    return refuse("not_found", `No discovered device '${p.key}': see device discovered`);
  }
  if (real.devices.has(p.id)) return refuse("exists", `A device named '${p.id}' exists already`);
  if (real.adopted.loadAll().devices.some((d) => d.key === p.key)) {
    return refuse("exists", `${p.key} is adopted already`);
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
  if (!decl.ok) return refuse("malformed", decl.message);
  real.adopted.insert({
    decl: decl.value,
    key: p.key,
    adoptedBy: principal.id,
    adoptedAt: batch.now,
  });
  const record: RealRecord = {
    decl: decl.value,
    state: initialState(decl.value),
    updatedAt: null,
    adopted: true,
  };
  real.devices.set(p.id, record);
  const detail: Record<string, Json> = { key: p.key, type, name: p.name, room: p.room };
  batch.journal(lifecycleEntry(message, p.id, { detail }));
  batch.afterCommit(() => ctx.reply(message, { ok: true, value: snapshotOf(record) }));
  batch.bindingsChanged();
}

/** Removes a device adopted at run time (home-file devices are removed by editing the file). */
export function takeRemove(
  real: RealDeviceState,
  batch: RealBatch,
  message: Message<"device.remove">,
  principal: PrincipalDeclaration | undefined,
  ctx: ActorContext,
): void {
  const id = message.payload.device;
  const refuse = (code: Refusal["code"], text: string) => {
    const error = { code, message: text };
    batch.journal(lifecycleEntry(message, id, { refused: error }));
    batch.afterCommit(() => ctx.reply(message, { ok: false, error }));
  };
  if (principal === undefined) return refuse("unauthenticated", "Log in first");
  const record = real.devices.get(id);
  if (record === undefined) return refuse("unknown_device", `No device named '${id}'`);
  if (!isAllowed(principal, id, "remove")) {
    return refuse("forbidden", `${principal.id} may not remove ${id}`);
  }
  if (!record.adopted) {
    return refuse(
      "unsupported_action",
      `${id} is declared in the home file: remove it there and reload`,
    );
  }
  real.adopted.remove(id);
  real.devices.delete(id);
  failPending(batch, real.bindings.forget(id), {
    code: "unknown_device",
    message: `${id} was removed`,
  }, ctx);
  batch.journal(lifecycleEntry(message, id, { detail: { type: record.decl.type } }));
  const snapshot = snapshotOf(record);
  batch.afterCommit(() => ctx.reply(message, { ok: true, value: snapshot }));
  batch.bindingsChanged();
}

/** Most discovered devices kept per source. */
const MAX_DISCOVERED_PER_SOURCE = 500;

/** Replaces the discovered devices of one source. */
export function setDiscovered(real: RealDeviceState, message: Message<"device.discovered">): void {
  const list = new Map<string, DiscoveredDevice>();
  for (const d of message.payload.devices.slice(0, MAX_DISCOVERED_PER_SOURCE)) list.set(d.key, d);
  real.discovered.set(message.payload.source.slice(0, 40), list);
}

/**
 * SIGHUP: makes the home file's devices those of `declared`. New ones start
 * from their stored state (or fresh), changed declarations keep the state
 * that still fits, devices no longer declared are removed (adopted devices
 * are left alone). True when anything changed.
 */
export function applyDeclared(
  real: RealDeviceState,
  declared: readonly DeviceDeclaration[],
  stored: ReadonlyMap<string, { type: string; state: DeviceState; updatedAt: string | null }>,
): boolean {
  const added: string[] = [];
  const removed: string[] = [];
  const replaced: string[] = [];
  const wanted = new Map(declared.map((d) => [d.id, d]));
  for (const [id, record] of [...real.devices]) {
    if (record.adopted || wanted.has(id)) continue;
    real.devices.delete(id);
    real.bindings.forget(id);
    removed.push(id);
  }
  for (const decl of declared) {
    const record = real.devices.get(decl.id);
    if (record?.adopted) continue;
    if (record && JSON.stringify(record.decl) === JSON.stringify(decl)) continue;
    const row = record
      ? { type: record.decl.type, state: record.state, updatedAt: record.updatedAt }
      : stored.get(decl.id);
    const keep = row !== undefined && row.type === decl.type;
    real.devices.set(decl.id, {
      decl,
      state: keep ? reconcileState(decl, row.state) : initialState(decl),
      updatedAt: keep ? row.updatedAt : null,
    });
    if (record) {
      real.bindings.forget(decl.id);
      replaced.push(decl.id);
    } else added.push(decl.id);
  }
  if (added.length + removed.length + replaced.length === 0) return false;
  log.info("Home file reloaded: devices added {added}, removed {removed}, changed {replaced}", {
    added: added.join(",") || "-",
    removed: removed.join(",") || "-",
    replaced: replaced.join(",") || "-",
  });
  return true;
}

/** The bound devices, for the bridge. */
export function bindingsOf(devices: ReadonlyMap<string, RealRecord>): BindingsChangedPayload {
  const out: BindingsChangedPayload["devices"][number][] = [];
  for (const d of devices.values()) {
    if (d.decl.binding === undefined) continue;
    out.push({
      id: d.decl.id,
      type: d.decl.type,
      binding: {
        ...toJsonBinding(d.decl.binding),
        ...(d.decl.dimmable ? { dimmable: true } : {}),
        ...(d.decl.metric ? { metric: d.decl.metric } : {}),
      },
    });
  }
  return { devices: out };
}
