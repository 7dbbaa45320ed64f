/**
 * Condition evaluation as pure functions of the devices' states, an
 * instant and the hub's time zone. A rule runs only when all its
 * conditions hold.
 *
 * @module
 */
import type { DeviceState } from "../../broker/messages.ts";
import type { DeviceDeclaration } from "../../config/home.ts";
import { localMinutes, localTime, minutesOf } from "./local_time.ts";
import type { Condition } from "./rule_schema.ts";
import { mainAttribute, sameValue, satisfies } from "./triggers.ts";

/** What conditions are evaluated against. */
export interface ConditionContext {
  /** Declarations and current states of the devices conditions name. */
  readonly devices: ReadonlyMap<string, { decl: DeviceDeclaration; state: DeviceState }>;
  readonly nowMs: number;
  readonly timeZone: string;
}

/** The first condition that does not hold (as text), or undefined when all hold. */
export function failedCondition(
  conditions: readonly Condition[],
  context: ConditionContext,
): string | undefined {
  for (const [i, condition] of conditions.entries()) {
    if (!holds(condition, context)) return `conditions.${i} (${condition.kind})`;
  }
  return undefined;
}

/** True when one condition holds. */
export function holds(condition: Condition, context: ConditionContext): boolean {
  switch (condition.kind) {
    case "state": {
      const device = context.devices.get(condition.device);
      if (device === undefined) return false;
      const value = device.state[condition.attribute ?? mainAttribute(device.decl)];
      if (condition.not !== undefined && sameValue(value, condition.not)) return false;
      return satisfies(value, {
        ...(condition.is !== undefined ? { to: condition.is } : {}),
        ...(condition.above !== undefined ? { above: condition.above } : {}),
        ...(condition.below !== undefined ? { below: condition.below } : {}),
      });
    }
    case "time":
      return inWindow(
        localMinutes(context.nowMs, context.timeZone),
        condition.after === undefined ? 0 : minutesOf(condition.after),
        condition.before === undefined ? 24 * 60 : minutesOf(condition.before),
      );
    case "weekday":
      return condition.days.includes(localTime(context.nowMs, context.timeZone).weekday);
  }
}

/** True when `minute` is in [from, until); a window with from > until wraps past midnight. */
export function inWindow(minute: number, from: number, until: number): boolean {
  return from <= until ? minute >= from && minute < until : minute >= from || minute < until;
}
