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
import type { DatabaseSync } from "node:sqlite";
import type { AuditAppendPayload, Message, Outcome, Source } from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";
import type { CommandPath } from "../domain/command_path.ts";
import type { DeviceDeclaration, Home, PrincipalDeclaration } from "../config/home.ts";
import type { Scene } from "../domain/automation/rule_schema.ts";
import {
  describeTrigger,
  evaluateChange,
  isScheduled,
  nextDue,
  scheduleAtStart,
} from "../domain/automation/triggers.ts";
import { loopProblem, RuleRateLimit } from "../domain/automation/safety.ts";
import { openDatabase, type SyncMode } from "../persistence/database.ts";
import { RuleStore } from "../persistence/rule_store.ts";
import { getLogger } from "../observability/logger.ts";
import type { ActorBehaviour, ActorContext } from "./actor.ts";
import { type Firing, type RunnerDeps, runRule } from "./automation_runner.ts";
import {
  type RequestContext,
  type RuleRuntime,
  rulesRequest,
  sceneRequest,
} from "./automation_requests.ts";

/** The kinds the automation actor consumes. */
export const AUTOMATION_TOPICS = [
  "device.state_changed",
  "automation.tick",
  "automation.rules",
  "automation.scene",
  "config.principals_changed",
] as const;

type AutomationTopic = (typeof AUTOMATION_TOPICS)[number];

/** Options for {@linkcode createAutomationActor}. */
export interface AutomationActorOptions {
  readonly databasePath: string;
  readonly sync: SyncMode;
  readonly home: Home;
  /** The one command path: every action goes through it. */
  readonly commandPath: CommandPath;
  /** Appends an audit entry through the audit actor; resolves once recorded. */
  readonly audit: (entry: AuditAppendPayload, source: Source) => Promise<boolean>;
  /** IANA zone of time triggers and conditions. */
  readonly timeZone: string;
  /** How late a time trigger missed while the hub was down may still fire at start. */
  readonly graceMs: number;
  /** How often the timer checks what is due. */
  readonly tickMs: number;
  /** Principals besides the home's (the anonymous one of `TLS_AUTH=none`). */
  readonly extraPrincipals?: readonly PrincipalDeclaration[];
}

/** The automation actor's state. */
export interface AutomationState {
  readonly db: DatabaseSync;
  readonly store: RuleStore;
  readonly rules: Map<string, RuleRuntime>;
  readonly timer: ReturnType<typeof setInterval>;
  readonly sleepers: Set<{ at: number; wake: (woke: boolean) => void }>;
  readonly runs: Set<Promise<unknown>>;
}

const log = getLogger("automation");
const TICK_SOURCE: Source = { principal: null, channel: "system" };

/** Creates the automation actor's behaviour. */
export function createAutomationActor(
  options: AutomationActorOptions,
): ActorBehaviour<AutomationState, AutomationTopic> {
  const devices = new Map<string, DeviceDeclaration>(options.home.devices.map((d) => [d.id, d]));
  const scenes = new Map<string, Scene>(options.home.scenes.map((s) => [s.id, s]));
  const principals = new Map<string, PrincipalDeclaration>();
  const setPrincipals = (declared: readonly PrincipalDeclaration[]) => {
    principals.clear();
    for (const p of [...declared, ...(options.extraPrincipals ?? [])]) principals.set(p.id, p);
  };
  setPrincipals(options.home.principals);
  const rate = new RuleRateLimit();

  const depsOf = (state: AutomationState, ctx: ActorContext): RunnerDeps => ({
    commandPath: options.commandPath,
    store: state.store,
    clock: ctx.clock,
    timeZone: options.timeZone,
    devices,
    scenes,
    rate,
    audit: options.audit,
    publish: (message) => ctx.publish(message).ok,
    sleepUntil: (at) =>
      new Promise<boolean>((wake) => {
        const sleeper = {
          at,
          wake: (woke: boolean) => {
            state.sleepers.delete(sleeper);
            wake(woke);
          },
        };
        state.sleepers.add(sleeper);
      }),
    onRecorded: (rule, at) => {
      const rt = state.rules.get(rule);
      if (rt) {
        rt.lastRunAt = at;
        rt.runs++;
      }
    },
    onRateLimited: (rule, firing) => {
      const rt = state.rules.get(rule.id);
      const now = ctx.clock.now();
      if (!rt || now - rt.rateAuditedAt < rule.rateLimit.perSeconds * 1000) return;
      rt.rateAuditedAt = now;
      log.warn("Rule {rule} is over its rate limit ({runs} runs per {per} s): runs refused", {
        rule: rule.id,
        runs: rule.rateLimit.runs,
        per: rule.rateLimit.perSeconds,
      });
      void options.audit({
        action: "automation.rate_limited",
        outcome: "rejected",
        code: "rate_limited",
        detail: { rule: rule.id, trigger: firing.trigger, limit: { ...rule.rateLimit } },
      }, { principal: rule.principal, channel: "automation" });
    },
  });

  /**
   * Keeps `work` among the runs terminate waits for, then hands its outcome to `done` (an
   * `internal` refusal when it threw, e.g. the database closed under a stopping hub).
   */
  const track = <T>(
    state: AutomationState,
    work: Promise<Outcome<T>>,
    done: (result: Outcome<T>) => void,
  ) => {
    const tracked = work.catch((error): Outcome<T> => {
      log.error("Automation request failed: {error}", { error: String(error) });
      return { ok: false, error: { code: "internal", message: "The automation request failed" } };
    }).then(done);
    state.runs.add(tracked);
    void tracked.finally(() => state.runs.delete(tracked));
  };

  const requestContext = (state: AutomationState, ctx: ActorContext): RequestContext => ({
    rules: state.rules,
    scenes,
    principals,
    store: state.store,
    commandPath: options.commandPath,
    audit: options.audit,
    clock: ctx.clock,
  });

  /** Starts a run unless the rule is disabled or in a loop; never waits for it. */
  const fire = (
    state: AutomationState,
    ctx: ActorContext,
    rt: RuleRuntime,
    dueAt: number | null,
    chain: readonly string[],
  ) => {
    const firing: Firing = {
      rule: rt.rule,
      trigger: rt.triggerText,
      triggerKey: rt.triggerKey,
      dueAt,
      chain,
    };
    if (!rt.enabled) {
      if (dueAt !== null) state.store.consume(rt.rule.id, rt.triggerKey, dueAt);
      return;
    }
    const loop = loopProblem(chain, rt.rule.id);
    if (loop) {
      const text = loop.chain.join(" -> ");
      log.warn("Rule {rule} stopped: {kind} ({chain})", {
        rule: rt.rule.id,
        kind: loop.kind === "loop" ? "its actions trigger it again" : "too many rules in a chain",
        chain: text,
      });
      void options.audit({
        action: "automation.loop_detected",
        outcome: "rejected",
        detail: {
          rule: rt.rule.id,
          trigger: rt.triggerText,
          chain: [...loop.chain],
          kind: loop.kind,
        },
      }, { principal: rt.rule.principal, channel: "automation", rules: [...chain] });
      return;
    }
    const run = runRule(depsOf(state, ctx), firing);
    state.runs.add(run);
    void run.finally(() => state.runs.delete(run));
  };

  const onChange = (
    state: AutomationState,
    ctx: ActorContext,
    message: Message<"device.state_changed">,
  ) => {
    const decl = devices.get(message.payload.device);
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
      if (forSeconds === undefined) fire(state, ctx, rt, null, chain);
      // A new change (re)starts the hold: for "any change" triggers the value must stay put.
      else rt.hold = { until: ctx.clock.now() + forSeconds * 1000, chain };
    }
  };

  const onTick = (state: AutomationState, ctx: ActorContext) => {
    const now = ctx.clock.now();
    for (const sleeper of [...state.sleepers]) if (sleeper.at <= now) sleeper.wake(true);
    for (const rt of state.rules.values()) {
      if (rt.hold && rt.hold.until <= now) {
        const { chain } = rt.hold;
        rt.hold = null;
        fire(state, ctx, rt, null, chain);
      }
      const trigger = rt.rule.trigger;
      if (rt.due === null || rt.due > now || !isScheduled(trigger)) continue;
      const due = rt.due;
      rt.due = nextDue(trigger, due, now, options.timeZone);
      // Late by more than the grace window (the machine slept): consumed without a run.
      if (now - due > Math.max(options.graceMs, options.tickMs * 4)) {
        state.store.consume(rt.rule.id, rt.triggerKey, due);
      } else fire(state, ctx, rt, due, []);
    }
  };

  return {
    name: "automation",
    consumes: AUTOMATION_TOPICS,
    init(ctx) {
      const db = openDatabase(options.databasePath, { sync: options.sync });
      const store = new RuleStore(db);
      const startedAt = new Date(ctx.clock.now()).toISOString();
      const interrupted = store.markInterrupted(startedAt);
      if (interrupted > 0) {
        log.warn("{n} rule runs were cut short by the last stop", { n: interrupted });
      }
      const fired = store.loadFired();
      const enabled = store.loadEnabled();
      const counts = store.runCounts();
      const rules = new Map<string, RuleRuntime>();
      const catchUps: { rt: RuleRuntime; due: number }[] = [];
      const now = ctx.clock.now();
      for (const rule of options.home.rules) {
        const triggerKey = JSON.stringify(rule.trigger);
        const record = fired.get(rule.id);
        const sameTrigger = record !== undefined && record.trigger === triggerKey;
        const rt: RuleRuntime = {
          rule,
          triggerKey,
          triggerText: describeTrigger(rule.trigger),
          enabled: enabled.get(rule.id) ?? rule.enabled,
          due: null,
          hold: null,
          lastRunAt: record?.lastFiredAt ?? null,
          runs: counts.get(rule.id) ?? 0,
          rateAuditedAt: -Infinity,
        };
        if (isScheduled(rule.trigger)) {
          const lastDue = sameTrigger && record.lastDue !== null ? record.lastDue : undefined;
          const start = scheduleAtStart(rule.trigger, lastDue, {
            nowMs: now,
            timeZone: options.timeZone,
            graceMs: options.graceMs,
          });
          rt.due = start.next;
          if (start.catchUp !== null) catchUps.push({ rt, due: start.catchUp });
          else if (lastDue === undefined || start.consumed !== lastDue) {
            store.consume(rule.id, triggerKey, start.consumed);
          }
        }
        rules.set(rule.id, rt);
      }
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
      for (const { rt, due } of catchUps) {
        log.info("Rule {rule} was due at {due} while the hub was down: running it once now", {
          rule: rt.rule.id,
          due: new Date(due).toISOString(),
        });
        fire(state, ctx, rt, due, []);
      }
      return state;
    },
    handle(state, message, ctx) {
      switch (message.type) {
        case "device.state_changed":
          onChange(state, ctx, message);
          return { state };
        case "automation.tick":
          onTick(state, ctx);
          return { state };
        case "config.principals_changed":
          setPrincipals(message.payload.principals);
          return { state };
        // Answered later (ctx.reply): the mailbox keeps flowing while a scene's commands or an
        // audit entry are awaited, so device changes are never held up behind a request.
        case "automation.rules":
          ctx.defer(message);
          track(
            state,
            rulesRequest(requestContext(state, ctx), message),
            (reply) => ctx.reply(message, reply),
          );
          return { state };
        case "automation.scene":
          ctx.defer(message);
          track(
            state,
            sceneRequest(requestContext(state, ctx), message),
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
