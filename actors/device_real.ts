/**
 * The device actor's handling of real devices (issue 11), apart from the
 * simulated-device rules: commands to bound devices (sent through the MQTT
 * bridge, answered once the device's report confirms them), their
 * timeouts, and reports from hardware. Adoption, removal and discovery are in
 * device_lifecycle.ts.
 *
 * Everything here runs inside the device actor's batch: each outcome is
 * journaled with the batch (audit entry and state row in one transaction)
 * and answered only after the commit, through {@linkcode RealBatch}.
 *
 * @module
 */
import type {
  DeviceAdapterCommandPayload,
  DeviceBinding,
  DeviceState,
  DiscoveredDevice,
  Json,
  Message,
  Refusal,
} from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";
import type { DeviceDeclaration } from "../config/home.ts";
import { reconcileState } from "../domain/device_types.ts";
import { type DeviceRecord, snapshotOf } from "../domain/device_requests.ts";
import type { AuditEntryInput } from "../persistence/audit_store.ts";
import type { AdoptedDeviceStore } from "../persistence/adopted_device_store.ts";
import type { ActorContext } from "./actor.ts";
import type { DeviceBindings, PendingCommand } from "./device_bindings.ts";
import { commandEntry } from "./device_journal_entries.ts";

/** A device of the actor, as real-device handling sees it. */
export interface RealRecord extends DeviceRecord {
  /** True for devices adopted at run time (removable). */
  adopted?: boolean;
}

/** The real-device parts of the actor's state. */
export interface RealDeviceState {
  readonly devices: Map<string, RealRecord>;
  readonly adopted: AdoptedDeviceStore;
  readonly bindings: DeviceBindings;
  /** Discovered devices by source (`zigbee2mqtt:<base>`, `homeassistant`), each by key. */
  readonly discovered: Map<string, ReadonlyMap<string, DiscoveredDevice>>;
}

/** What a batch offers real-device handling. */
export interface RealBatch {
  readonly now: string;
  /** Changes a device's state in the batch (saved with the commit, published after it). */
  change(
    cause: Message<"device.command"> | Message<"device.report">,
    device: DeviceRecord,
    next: DeviceState,
  ): void;
  /** Adds an audit entry to the batch's commit. */
  journal(entry: AuditEntryInput): void;
  /** Runs once the batch is committed (answers). */
  afterCommit(work: () => void): void;
  /** Hands a command to the bridge once the batch is committed. */
  send(command: DeviceAdapterCommandPayload): void;
  /** The bound devices changed (adoption, removal, reload): the bridge is told after the commit. */
  bindingsChanged(): void;
}

/**
 * A validated command to a bound device: refused now (bridge down, device
 * offline), applied now (optimistic), or sent and deferred until the device
 * confirms. False when the device is simulated (the caller applies it).
 */
export function takeBoundCommand(
  real: RealDeviceState,
  batch: RealBatch,
  message: Message<"device.command">,
  device: RealRecord,
  desired: DeviceState,
  ctx: ActorContext,
): boolean {
  const binding = device.decl.binding;
  if (binding === undefined) return false;
  const command: DeviceAdapterCommandPayload = {
    device: device.decl.id,
    deviceType: device.decl.type,
    binding: toJsonBinding(binding),
    action: message.payload.action,
    args: message.payload.args,
    desired,
    command: message.id,
  };
  const refusal = real.bindings.refusal(device.decl.id);
  if (refusal) {
    batch.journal(commandEntry(message, { refused: refusal }));
    batch.afterCommit(() => ctx.reply(message, { ok: false, error: refusal }));
    return true;
  }
  if (binding.optimistic) {
    batch.change(message, device, desired);
    batch.journal(commandEntry(message, { state: desired as Json }));
    const snapshot = snapshotOf(device);
    batch.afterCommit(() => ctx.reply(message, { ok: true, value: snapshot }));
    batch.send(command);
    return true;
  }
  ctx.defer(message);
  real.bindings.await(
    { message, device: device.decl.id, desired, timeoutMs: binding.confirmTimeoutMs },
    (id) => {
      const told = ctx.publish(
        createMessage("device.confirm_timeout", { command: id }, SYSTEM, { clock: ctx.clock }),
      );
      // The mailbox is full: answer without the journal entry rather than never.
      if (!told.ok) {
        const p = real.bindings.take(id);
        if (p) ctx.reply(p.message, { ok: false, error: timeoutRefusal(p) });
      }
    },
  );
  batch.send(command);
  return true;
}

const SYSTEM = { principal: null, channel: "system" } as const;

function timeoutRefusal(p: PendingCommand): Refusal {
  return {
    code: "device_timeout",
    message: `Sent to ${p.device}, but it did not confirm within ${p.timeoutMs} ms: not applied`,
  };
}

/** A bound device's confirmation time ran out: journaled as sent, not confirmed, and answered. */
export function takeTimeout(
  real: RealDeviceState,
  batch: RealBatch,
  message: Message<"device.confirm_timeout">,
  ctx: ActorContext,
): void {
  const p = real.bindings.take(message.payload.command);
  if (p === undefined) return;
  failPending(batch, [p], timeoutRefusal(p), ctx);
}

/** Journals and answers commands that will not be confirmed. */
export function failPending(
  batch: RealBatch,
  pending: readonly PendingCommand[],
  error: Refusal,
  ctx: ActorContext,
): void {
  for (const p of pending) {
    const base = commandEntry(p.message, { refused: error });
    const sent = error.code === "device_timeout" || error.code === "device_offline";
    batch.journal(
      sent
        ? {
          ...base,
          outcome: "failed",
          detail: JSON.stringify({
            ...JSON.parse(base.detail ?? "{}"),
            sent: true,
            confirmed: false,
          }),
        }
        : base,
    );
    batch.afterCommit(() => ctx.reply(p.message, { ok: false, error }));
  }
}

/** A report from hardware (from the MQTT bridge through the command path). */
export function takeReport(
  real: RealDeviceState,
  batch: RealBatch,
  message: Message<"device.report">,
  ctx: ActorContext,
): void {
  const p = message.payload;
  const refuse = (code: Refusal["code"], text: string) => {
    const error = { code, message: text };
    batch.journal(reportEntry(message, { refused: error }));
    batch.afterCommit(() => ctx.reply(message, { ok: false, error }));
  };
  if (message.source.channel !== "mqtt") {
    return refuse("forbidden", "Reports from hardware come from the MQTT bridge only");
  }
  const device = real.devices.get(p.device);
  if (device === undefined) return refuse("unknown_device", `No device named '${p.device}'`);
  if (device.decl.binding === undefined) {
    return refuse("unsupported_action", `${p.device} is not bound to a real device`);
  }
  const answer = (changed: boolean, confirmed: readonly string[]) =>
    batch.afterCommit(() =>
      ctx.reply(message, { ok: true, value: { snapshot: snapshotOf(device), changed, confirmed } })
    );
  if (p.sendFailed) {
    const pending = real.bindings.take(p.sendFailed.command);
    if (pending) {
      failPending(batch, [pending], {
        code: "unavailable",
        message: `Not sent to ${p.device}: ${p.sendFailed.reason}`,
      }, ctx);
    }
    return answer(false, []);
  }
  if (p.online !== undefined) {
    const was = real.bindings.online(p.device);
    const failed = real.bindings.setOnline(p.device, p.online);
    failPending(batch, failed, {
      code: "device_offline",
      message: `${p.device} went offline before confirming: not applied`,
    }, ctx);
    if (was !== p.online) {
      batch.journal(reportEntry(message, { state: null, by: "device", confirms: [] }));
    }
    return answer(was !== p.online, []);
  }
  if (p.state === undefined) {
    return refuse("malformed", "A report carries state, availability or a send failure");
  }
  // Availability changes only by the device's availability topic (its LWT), never by a state report.
  const next = reconcileState(device.decl, { ...device.state, ...p.state });
  const changed = Object.keys(next).some((k) => next[k] !== device.state[k]);
  const matches = real.bindings.matched(p.device, next);
  const confirmed = matches.map((m) => m.message.id);
  if (!changed && matches.length === 0) return answer(false, []);
  if (changed) batch.change(message, device, next);
  batch.journal(reportEntry(message, {
    state: next as Json,
    by: matches.length > 0 ? "confirmation" : "device",
    confirms: confirmed,
  }));
  for (const m of matches) {
    batch.journal(commandEntry(m.message, { state: m.desired as Json }));
    batch.afterCommit(() => ctx.reply(m.message, { ok: true, value: snapshotOf(device) }));
  }
  answer(changed, confirmed);
}

/** The audit entry of a report: the device as the source. */
function reportEntry(
  message: Message<"device.report">,
  result: { refused: Refusal } | { state: Json; by: string; confirms: readonly string[] },
): AuditEntryInput {
  const p = message.payload;
  const detail: Record<string, Json> = { scheme: p.raw.scheme, topic: p.raw.topic };
  if ("refused" in result) detail.message = result.refused.message;
  else {
    detail.by = result.by;
    detail.confirms = [...result.confirms];
    if (result.state !== null) detail.state = result.state;
    if (p.online !== undefined) detail.online = p.online;
  }
  return {
    at: message.at,
    messageId: message.id,
    principal: message.source.principal,
    channel: message.source.channel,
    address: message.source.address ?? null,
    action: "device.report",
    device: p.device,
    outcome: "refused" in result ? "rejected" : "ok",
    code: "refused" in result ? result.refused.code : null,
    detail: JSON.stringify(detail),
  };
}

/** A validated binding as plain JSON (it crosses the broker). */
export function toJsonBinding(binding: NonNullable<DeviceDeclaration["binding"]>): DeviceBinding {
  const out: { scheme: string; [key: string]: Json } = { scheme: binding.scheme };
  for (const [key, value] of Object.entries(binding)) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      out[key] = value;
    }
  }
  return out;
}
