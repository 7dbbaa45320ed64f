/**
 * Trigger evaluation as pure functions: a device change against a rule's
 * trigger, and the schedule of time and interval triggers (including what a
 * restart owes: a time due while the hub was down fires once within the
 * grace window, never twice).
 *
 * @module
 */
import type { DeviceState } from "../../broker/messages.ts";
import type { DeviceDeclaration } from "../../config/home.ts";
import { lastOccurrence, nextOccurrence } from "./local_time.ts";
import type { Trigger } from "./rule_schema.ts";

/** A device change as the automation actor sees it. */
export interface ChangeEvent {
  readonly device: DeviceDeclaration;
  readonly state: DeviceState;
  readonly previous: DeviceState;
}

/** A state value. */
export type StateValue = string | number | boolean | null | undefined;

/** The state key a trigger or condition watches when it names none. */
export function mainAttribute(device: DeviceDeclaration): string {
  switch (device.type) {
    case "light":
    case "switch":
      return "power";
    case "thermostat":
      return "target";
    case "lock":
      return "locked";
    case "cover":
      return "position";
    case "sensor":
      return device.metric ?? "value";
    case "camera":
      return "lastSnapshot";
  }
}

/** Loose equality of a state value and a declared one: `21` matches `"21"`, `true` `"true"`. */
export function sameValue(actual: StateValue, wanted: string | number | boolean): boolean {
  if (actual === null || actual === undefined) return false;
  return actual === wanted || String(actual) === String(wanted);
}

/** True when `value` satisfies the `to`/`above`/`below` parts of a state trigger or condition. */
export function satisfies(
  value: StateValue,
  test: {
    readonly to?: string | number | boolean;
    readonly above?: number;
    readonly below?: number;
  },
): boolean {
  if (test.to !== undefined && !sameValue(value, test.to)) return false;
  if (test.above !== undefined && !(typeof value === "number" && value > test.above)) return false;
  if (test.below !== undefined && !(typeof value === "number" && value < test.below)) return false;
  return true;
}

/**
 * What a change means for a trigger:
 * - `enter`: the trigger's situation just began (fire now, or start holding for `forSeconds`);
 * - `leave`: the watched value no longer matches (a hold in progress is cancelled);
 * - `none`: nothing for this trigger.
 */
export type ChangeVerdict = "enter" | "leave" | "none";

/** Evaluates one change against one trigger (time and interval triggers never match changes). */
export function evaluateChange(trigger: Trigger, event: ChangeEvent): ChangeVerdict {
  if (!("device" in trigger) || trigger.device !== event.device.id) return "none";
  const attribute = trigger.kind === "state" && trigger.attribute !== undefined
    ? trigger.attribute
    : mainAttribute(event.device);
  const now = event.state[attribute];
  const before = event.previous[attribute];
  switch (trigger.kind) {
    case "state": {
      const test = {
        ...(trigger.to !== undefined ? { to: trigger.to } : {}),
        ...(trigger.above !== undefined ? { above: trigger.above } : {}),
        ...(trigger.below !== undefined ? { below: trigger.below } : {}),
      };
      if (!satisfies(now, test)) return "leave";
      if (now === before) return "none";
      if (trigger.from !== undefined && !sameValue(before, trigger.from)) return "none";
      // A threshold fires when crossed, not on every change above it.
      if (trigger.above !== undefined && typeof before === "number" && before > trigger.above) {
        return "none";
      }
      if (trigger.below !== undefined && typeof before === "number" && before < trigger.below) {
        return "none";
      }
      return "enter";
    }
    case "sensor":
      if (event.device.type !== "sensor") return "none";
      return satisfies(now, {
          ...(trigger.above !== undefined ? { above: trigger.above } : {}),
          ...(trigger.below !== undefined ? { below: trigger.below } : {}),
        })
        ? "enter"
        : "none";
    case "button":
      if (event.device.type !== "sensor" || now === null || now === undefined) return "none";
      return trigger.value === undefined || sameValue(now, trigger.value) ? "enter" : "none";
    case "snapshot":
      // Every change of a camera is a stored snapshot, also one that replaced the same path.
      return event.device.type === "camera" && now !== null && now !== undefined ? "enter" : "none";
  }
}

/** A scheduled trigger: time of day or interval. */
export type ScheduledTrigger = Extract<Trigger, { kind: "time" | "interval" }>;

/** True for time and interval triggers. */
export function isScheduled(trigger: Trigger): trigger is ScheduledTrigger {
  return trigger.kind === "time" || trigger.kind === "interval";
}

/** Where a scheduled trigger stands when the hub starts. */
export interface StartSchedule {
  /** The due time to fire now (missed while down, still within grace), or null. */
  readonly catchUp: number | null;
  /** Due times at or before this are consumed (recorded so that no restart fires them). */
  readonly consumed: number;
  /** The next due time to wait for. */
  readonly next: number;
}

/**
 * Decides, at start, what a scheduled trigger owes.
 *
 * @param lastDue the last due time recorded as fired (or consumed), or undefined for a trigger
 *   never seen before (which owes nothing: the hub cannot know it was down at its due time)
 * @param graceMs how late a missed due time may still fire
 */
export function scheduleAtStart(
  trigger: ScheduledTrigger,
  lastDue: number | undefined,
  context: { readonly nowMs: number; readonly timeZone: string; readonly graceMs: number },
): StartSchedule {
  const { nowMs, timeZone, graceMs } = context;
  if (trigger.kind === "time") {
    const latest = lastOccurrence(trigger.at, timeZone, nowMs);
    const next = nextOccurrence(trigger.at, timeZone, nowMs);
    if (lastDue === undefined || lastDue >= latest) {
      return { catchUp: null, consumed: Math.max(lastDue ?? latest, latest), next };
    }
    return { catchUp: nowMs - latest <= graceMs ? latest : null, consumed: latest, next };
  }
  const every = trigger.everySeconds * 1000;
  if (lastDue === undefined) return { catchUp: null, consumed: nowMs, next: nowMs + every };
  if (lastDue + every > nowMs) return { catchUp: null, consumed: lastDue, next: lastDue + every };
  const latest = lastDue + Math.floor((nowMs - lastDue) / every) * every;
  return {
    catchUp: nowMs - latest <= graceMs ? latest : null,
    consumed: latest,
    next: latest + every,
  };
}

/** The due time after `due` (fired or missed at `nowMs`). */
export function nextDue(
  trigger: ScheduledTrigger,
  due: number,
  nowMs: number,
  timeZone: string,
): number {
  if (trigger.kind === "time") return nextOccurrence(trigger.at, timeZone, Math.max(due, nowMs));
  const every = trigger.everySeconds * 1000;
  const steps = Math.max(1, Math.floor((nowMs - due) / every) + 1);
  return due + steps * every;
}

/** Short text of a trigger, for listings and audit entries. */
export function describeTrigger(trigger: Trigger): string {
  switch (trigger.kind) {
    case "state": {
      const parts = [`state ${trigger.device}${trigger.attribute ? "." + trigger.attribute : ""}`];
      if (trigger.from !== undefined) parts.push(`from ${trigger.from}`);
      if (trigger.to !== undefined) parts.push(`to ${trigger.to}`);
      if (trigger.above !== undefined) parts.push(`above ${trigger.above}`);
      if (trigger.below !== undefined) parts.push(`below ${trigger.below}`);
      if (trigger.forSeconds !== undefined) parts.push(`for ${trigger.forSeconds}s`);
      return parts.join(" ");
    }
    case "sensor":
      return [
        `sensor ${trigger.device}`,
        trigger.above !== undefined ? `above ${trigger.above}` : "",
        trigger.below !== undefined ? `below ${trigger.below}` : "",
      ].filter(Boolean).join(" ");
    case "button":
      return `button ${trigger.device}${trigger.value !== undefined ? " " + trigger.value : ""}`;
    case "snapshot":
      return `snapshot ${trigger.device}`;
    case "time":
      return `time ${trigger.at}`;
    case "interval":
      return `every ${trigger.everySeconds}s`;
  }
}
