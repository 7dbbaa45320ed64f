/**
 * The automation actor: runs the home's rules. It watches device changes
 * (state changes, sensor reports and button presses, stored camera
 * snapshots: each one published only once durably recorded) and its own
 * timer (time of day, intervals, held-for durations, delays), and sends
 * every action through the one command path as the rule's principal.
 *
 * Consumes: `device.state_changed`, `automation.tick` (its own timer),
 * `automation.rules` (request: list, enable, disable), `config.principals_changed`.
 * Emits: `automation.notification`, `automation.tick`; audit entries through
 * the audit actor.
 *
 * Across restarts: a time or interval trigger due while the hub was down
 * fires once at start when it is at most the grace window late, never twice
 * (the due time is recorded in the transaction that records the run); a
 * held-for duration in progress is cancelled (it starts again with the next
 * change); states restored at start are not changes and fire nothing.
 *
 * @module
 */
import { createMessage } from "../broker/envelope.ts";
import type { Source } from "../broker/messages.ts";
import type { PrincipalDeclaration } from "../config/home.ts";
import { RuleRateLimit } from "../domain/automation/safety.ts";
import { openDatabase } from "../persistence/database.ts";
import { RuleStore } from "../persistence/rule_store.ts";
import type { ActorBehaviour } from "./actor.ts";
import { rulesRequest, sceneRequest } from "./automation_requests.ts";
import { fire, requestContext, track } from "./automation_firing.ts";
import { onChange, onTick } from "./automation_events.ts";
import { loadRules, logCatchUp, markInterrupted } from "./automation_start.ts";
import type { AutomationActorOptions, AutomationEnv, AutomationState } from "./automation_types.ts";

export type { AutomationActorOptions, AutomationState } from "./automation_types.ts";

/** The kinds the automation actor consumes. */
export const AUTOMATION_TOPICS = [
  "device.state_changed",
  "automation.tick",
  "automation.rules",
  "automation.scene",
  "config.principals_changed",
] as const;

type AutomationTopic = (typeof AUTOMATION_TOPICS)[number];

const TICK_SOURCE: Source = { principal: null, channel: "system" };

/** The shared environment: the home's devices, scenes and principals, and the rate limits. */
function automationEnv(options: AutomationActorOptions): AutomationEnv {
  return {
    options,
    devices: new Map(options.home.devices.map((d) => [d.id, d])),
    scenes: new Map(options.home.scenes.map((s) => [s.id, s])),
    principals: new Map(),
    rate: new RuleRateLimit(),
  };
}

/** Replaces the principals requests are checked against (the home's and the extra ones). */
function setPrincipals(env: AutomationEnv, declared: readonly PrincipalDeclaration[]): void {
  env.principals.clear();
  for (const p of [...declared, ...(env.options.extraPrincipals ?? [])]) {
    env.principals.set(p.id, p);
  }
}

/** Creates the automation actor's behaviour. */
export function createAutomationActor(
  options: AutomationActorOptions,
): ActorBehaviour<AutomationState, AutomationTopic> {
  const env = automationEnv(options);
  setPrincipals(env, options.home.principals);
  return {
    name: "automation",
    consumes: AUTOMATION_TOPICS,
    init(ctx) {
      const db = openDatabase(options.databasePath, { sync: options.sync });
      const store = new RuleStore(db);
      markInterrupted(store, ctx.clock.now());
      const { rules, catchUps } = loadRules(store, options.home.rules, {
        nowMs: ctx.clock.now(),
        timeZone: options.timeZone,
        graceMs: options.graceMs,
      });
      const timer = setInterval(() => {
        ctx.publish(createMessage("automation.tick", {}, TICK_SOURCE, { clock: ctx.clock }));
      }, options.tickMs);
      const state: AutomationState = {
        db,
        store,
        rules,
        timer,
        sleepers: new Set(),
        runs: new Set(),
      };
      for (const catchUp of catchUps) {
        logCatchUp(catchUp);
        fire(env, state, ctx, catchUp.rt, catchUp.due, []);
      }
      return state;
    },
    handle(state, message, ctx) {
      switch (message.type) {
        case "device.state_changed":
          onChange(env, state, ctx, message);
          return { state };
        case "automation.tick":
          onTick(env, state, ctx);
          return { state };
        case "config.principals_changed":
          setPrincipals(env, message.payload.principals);
          return { state };
        // Answered later (ctx.reply): the mailbox keeps flowing while a scene's commands or an
        // audit entry are awaited, so device changes are never held up behind a request.
        case "automation.rules":
          ctx.defer(message);
          track(
            state,
            rulesRequest(requestContext(env, state, ctx), message),
            (reply) => ctx.reply(message, reply),
          );
          return { state };
        case "automation.scene":
          ctx.defer(message);
          track(
            state,
            sceneRequest(requestContext(env, state, ctx), message),
            (reply) => ctx.reply(message, reply),
          );
          return { state };
      }
    },
    async terminate(state) {
      clearInterval(state.timer);
      for (const sleeper of [...state.sleepers]) sleeper.wake(false);
      await Promise.allSettled([...state.runs]);
      state.db.close();
    },
  };
}
