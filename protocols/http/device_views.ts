/**
 * What the API says about a device: its snapshot (from the device actor,
 * which already filtered by grants) plus what a client needs to draw its
 * controls: the actions its type has, the ones this principal may use, and
 * its declared ranges. Authorisation itself stays in the device actor.
 *
 * @module
 */
import type { DeviceSnapshot } from "../../broker/messages.ts";
import type { Home, PrincipalDeclaration } from "../../config/home.ts";
import { isAllowed } from "../../domain/grants.ts";
import { actionsOf, targetRange } from "../../domain/device_types.ts";

/** A device as the API shows it. */
export interface DeviceView extends DeviceSnapshot {
  /** Every action of its type. */
  readonly actions: readonly string[];
  /** The actions this principal may use. */
  readonly allowed: readonly string[];
  /** Declared details: `dimmable`, `minTarget`/`maxTarget`, `metric`, `unit`. */
  readonly details: Readonly<Record<string, string | number | boolean>>;
}

/** Adds actions, allowed actions and details to a snapshot. */
export function deviceView(
  home: Home,
  principal: PrincipalDeclaration,
  snapshot: DeviceSnapshot,
): DeviceView {
  const decl = home.devices.find((d) => d.id === snapshot.id);
  if (decl === undefined) return { ...snapshot, actions: [], allowed: [], details: {} };
  const actions = actionsOf(decl);
  const details: Record<string, string | number | boolean> = {};
  if (decl.type === "light") details.dimmable = decl.dimmable === true;
  if (decl.type === "thermostat") {
    const range = targetRange(decl);
    details.minTarget = range.min;
    details.maxTarget = range.max;
  }
  if (decl.metric !== undefined) details.metric = decl.metric;
  if (decl.unit !== undefined) details.unit = decl.unit;
  return {
    ...snapshot,
    actions,
    allowed: actions.filter((a) => isAllowed(principal, decl.id, a)),
    details,
  };
}
