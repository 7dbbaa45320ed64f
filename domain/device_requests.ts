/**
 * What a device request decides, as a pure function of the devices, the
 * principals and the request: a refusal, an answer to a query, or a new
 * state. The device actor applies the decision and records it.
 *
 * @module
 */
import type { DeviceSnapshot, DeviceState, Message, Refusal } from "../broker/messages.ts";
import type { DeviceDeclaration, PrincipalDeclaration } from "../config/home.ts";
import { actionsOf, applyAction, readingValue } from "./device_types.ts";
import { checkReading } from "./reading_ranges.ts";
import { canSee, isAllowed } from "./grants.ts";

/** One device: its declaration and current state. */
export interface DeviceRecord {
  readonly decl: DeviceDeclaration;
  state: DeviceState;
  updatedAt: string | null;
}

/** The requests a principal sends about devices. */
export type DeviceRequest =
  | Message<"device.command">
  | Message<"device.reading">
  | Message<"device.query">;

/** What a request comes to. */
export type Decision =
  | { readonly kind: "refused"; readonly error: Refusal }
  | { readonly kind: "visible"; readonly devices: readonly DeviceRecord[] }
  | { readonly kind: "change"; readonly device: DeviceRecord; readonly next: DeviceState };

const refused = (code: Refusal["code"], message: string): Decision => ({
  kind: "refused",
  error: { code, message },
});

/** Decides a request against the current devices and the sender's grants. */
export function decide(
  devices: ReadonlyMap<string, DeviceRecord>,
  principals: ReadonlyMap<string, PrincipalDeclaration>,
  message: DeviceRequest,
): Decision {
  const principalId = message.source.principal;
  if (principalId === null) return refused("unauthenticated", "Log in first");
  const principal = principals.get(principalId);
  if (principal === undefined) {
    return refused("unauthenticated", `Unknown principal ${principalId}`);
  }

  if (message.type === "device.query") {
    const id = message.payload.device;
    if (id === null) {
      return {
        kind: "visible",
        devices: [...devices.values()].filter((e) => canSee(principal, e.decl.id)),
      };
    }
    const entry = devices.get(id);
    if (entry === undefined) return refused("unknown_device", `No device named '${id}'`);
    if (!canSee(principal, id)) return refused("forbidden", `${principal.id} may not see ${id}`);
    return { kind: "visible", devices: [entry] };
  }

  const id = message.payload.device;
  const entry = devices.get(id);
  if (entry === undefined) return refused("unknown_device", `No device named '${id}'`);
  // A principal with no grant on the device learns nothing more about it (its actions, its metric).
  if (!canSee(principal, id)) {
    const verb = message.type === "device.reading" ? "report for" : message.payload.action;
    return refused("forbidden", forbidden(principal.id, verb, id));
  }
  if (message.type === "device.reading") return decideReading(entry, principal, message);

  const { action, args } = message.payload;
  if (!actionsOf(entry.decl).includes(action)) {
    // applyAction words the refusal (it lists the actions this device has).
    const outcome = applyAction(entry.decl, entry.state, action, args);
    return outcome.ok
      ? refused("unsupported_action", `${id} has no action '${action}'`)
      : { kind: "refused", error: outcome.error };
  }
  if (!isAllowed(principal, id, action)) {
    return refused("forbidden", forbidden(principal.id, action, id));
  }
  const outcome = applyAction(entry.decl, entry.state, action, args);
  if (!outcome.ok) return { kind: "refused", error: outcome.error };
  return { kind: "change", device: entry, next: outcome.value };
}

function decideReading(
  entry: DeviceRecord,
  principal: PrincipalDeclaration,
  message: Message<"device.reading">,
): Decision {
  const id = entry.decl.id;
  const { metric, value } = message.payload;
  const own = entry.decl.metric ?? "value";
  if (entry.decl.type !== "sensor") {
    return refused("unsupported_action", `${id} (${entry.decl.type}) does not report readings`);
  }
  if (metric !== own) return refused("unsupported_action", `${id} reports ${own}, not '${metric}'`);
  if (!isAllowed(principal, id, "report")) {
    return refused("forbidden", `${principal.id} may not report for ${id}`);
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    return refused("malformed", "Reading is not a finite number");
  }
  const checked = typeof value === "string" ? readingValue(value) : { ok: true as const, value };
  if (!checked.ok) return refused("malformed", checked.message);
  const outside = checkReading(own, checked.value);
  if (outside) return refused(outside.code, outside.message);
  return { kind: "change", device: entry, next: { ...entry.state, [own]: checked.value } };
}

/** The words of a refused grant: `kitchen-panel may not use 'unlock' on front-door (no grant)`. */
function forbidden(principal: string, action: string, device: string): string {
  return action === "report for"
    ? `${principal} may not report for ${device} (no grant)`
    : `${principal} may not use '${action}' on ${device} (no grant)`;
}

/** A device as a client sees it. */
export function snapshotOf(entry: DeviceRecord): DeviceSnapshot {
  return {
    id: entry.decl.id,
    type: entry.decl.type,
    name: entry.decl.name,
    room: entry.decl.room,
    state: entry.state,
    updatedAt: entry.updatedAt,
  };
}
