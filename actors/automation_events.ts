/**
 * The automation actor's reactions to what happens: a device change (starts
 * runs or held-for waits, cancels a hold when the value leaves) and its own
 * timer tick (wakes delays, ends holds, fires scheduled triggers that are due).
 *
 * @module
 */
import type { Message } from "../broker/messages.ts";
import { evaluateChange, isScheduled, nextDue } from "../domain/automation/triggers.ts";
import { getLogger } from "../observability/logger.ts";
import type { ActorContext } from "./actor.ts";
import { fire } from "./automation_firing.ts";
import type { AutomationEnv, AutomationState } from "./automation_types.ts";

const log = getLogger("automation");

/** A device change: fires the rules it enters, (re)starts held-for waits, cancels left ones. */
export function onChange(
  env: AutomationEnv,
  state: AutomationState,
  ctx: ActorContext,
  message: Message<"device.state_changed">,
): void {
  const decl = env.devices.get(message.payload.device);
  if (decl === undefined) return;
  const event = {
    device: decl,
    state: message.payload.state,
    previous: message.payload.previous,
  };
  const chain = message.source.rules ?? [];
  for (const rt of state.rules.values()) {
    const verdict = evaluateChange(rt.rule.trigger, event);
    if (verdict === "leave" && rt.hold) {
      log.debug("Rule {rule}: held-for cancelled, the value changed", { rule: rt.rule.id });
      rt.hold = null;
    }
    if (verdict !== "enter") continue;
    const forSeconds = rt.rule.trigger.kind === "state" ? rt.rule.trigger.forSeconds : undefined;
    if (forSeconds === undefined) fire(env, state, ctx, rt, null, chain);
    // A new change (re)starts the hold: for "any change" triggers the value must stay put.
    else rt.hold = { until: ctx.clock.now() + forSeconds * 1000, chain };
  }
}

/** The timer: wakes ended delays, fires ended holds and scheduled triggers now due. */
export function onTick(env: AutomationEnv, state: AutomationState, ctx: ActorContext): void {
  const { options } = env;
  const now = ctx.clock.now();
  for (const sleeper of [...state.sleepers]) if (sleeper.at <= now) sleeper.wake(true);
  for (const rt of state.rules.values()) {
    if (rt.hold && rt.hold.until <= now) {
      const { chain } = rt.hold;
      rt.hold = null;
      fire(env, state, ctx, rt, null, chain);
    }
    const trigger = rt.rule.trigger;
    if (rt.due === null || rt.due > now || !isScheduled(trigger)) continue;
    const due = rt.due;
    rt.due = nextDue(trigger, due, now, options.timeZone);
    // Late by more than the grace window (the machine slept): consumed without a run.
    if (now - due > Math.max(options.graceMs, options.tickMs * 4)) {
      state.store.consume(rt.rule.id, rt.triggerKey, due);
    } else fire(env, state, ctx, rt, due, []);
  }
}
