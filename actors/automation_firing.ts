/**
 * How the automation actor starts rule runs: the runner's dependencies
 * (sleeping until a delay ends, run bookkeeping, rate-limit audit), loop
 * refusal, and keeping every run among those terminate waits for.
 *
 * @module
 */
import type { Outcome } from "../broker/messages.ts";
import { loopProblem } from "../domain/automation/safety.ts";
import { getLogger } from "../observability/logger.ts";
import type { ActorContext } from "./actor.ts";
import { type Firing, type RunnerDeps, runRule } from "./automation_runner.ts";
import type { RequestContext, RuleRuntime } from "./automation_requests.ts";
import type { AutomationEnv, AutomationState } from "./automation_types.ts";

const log = getLogger("automation");

/** A promise resolving when `at` is reached (true) or the actor stops (false). */
function sleepUntil(state: AutomationState, at: number): Promise<boolean> {
  return new Promise<boolean>((wake) => {
    const sleeper = {
      at,
      wake: (woke: boolean) => {
        state.sleepers.delete(sleeper);
        wake(woke);
      },
    };
    state.sleepers.add(sleeper);
  });
}

/** Audits a rule over its rate limit, at most once per limit window. */
function auditRateLimited(
  env: AutomationEnv,
  state: AutomationState,
  ctx: ActorContext,
  rule: Firing["rule"],
  firing: Firing,
): void {
  const rt = state.rules.get(rule.id);
  const now = ctx.clock.now();
  if (!rt || now - rt.rateAuditedAt < rule.rateLimit.perSeconds * 1000) return;
  rt.rateAuditedAt = now;
  log.warn("Rule {rule} is over its rate limit ({runs} runs per {per} s): runs refused", {
    rule: rule.id,
    runs: rule.rateLimit.runs,
    per: rule.rateLimit.perSeconds,
  });
  void env.options.audit({
    action: "automation.rate_limited",
    outcome: "rejected",
    code: "rate_limited",
    detail: { rule: rule.id, trigger: firing.trigger, limit: { ...rule.rateLimit } },
  }, { principal: rule.principal, channel: "automation" });
}

/** The runner's dependencies for one run. */
export function runnerDeps(
  env: AutomationEnv,
  state: AutomationState,
  ctx: ActorContext,
): RunnerDeps {
  return {
    commandPath: env.options.commandPath,
    store: state.store,
    clock: ctx.clock,
    timeZone: env.options.timeZone,
    devices: env.devices,
    scenes: env.scenes,
    rate: env.rate,
    audit: env.options.audit,
    publish: (message) => ctx.publish(message).ok,
    sleepUntil: (at) => sleepUntil(state, at),
    onRecorded: (rule, at) => {
      const rt = state.rules.get(rule);
      if (rt) {
        rt.lastRunAt = at;
        rt.runs++;
      }
    },
    onRateLimited: (rule, firing) => auditRateLimited(env, state, ctx, rule, firing),
  };
}

/** What the `automation.rules` and `automation.scene` requests need. */
export function requestContext(
  env: AutomationEnv,
  state: AutomationState,
  ctx: ActorContext,
): RequestContext {
  return {
    rules: state.rules,
    scenes: env.scenes,
    principals: env.principals,
    store: state.store,
    commandPath: env.options.commandPath,
    audit: env.options.audit,
    clock: ctx.clock,
  };
}

/**
 * Keeps `work` among the runs terminate waits for, then hands its outcome to `done` (an
 * `internal` refusal when it threw, e.g. the database closed under a stopping hub).
 */
export function track<T>(
  state: AutomationState,
  work: Promise<Outcome<T>>,
  done: (result: Outcome<T>) => void,
): void {
  const tracked = work.catch((error): Outcome<T> => {
    log.error("Automation request failed: {error}", { error: String(error) });
    return { ok: false, error: { code: "internal", message: "The automation request failed" } };
  }).then(done);
  state.runs.add(tracked);
  void tracked.finally(() => state.runs.delete(tracked));
}

/** Logs and audits a run refused because the rule's actions trigger it again (or too long a chain). */
function refuseLoop(
  env: AutomationEnv,
  rt: RuleRuntime,
  chain: readonly string[],
): boolean {
  const loop = loopProblem(chain, rt.rule.id);
  if (!loop) return false;
  log.warn("Rule {rule} stopped: {kind} ({chain})", {
    rule: rt.rule.id,
    kind: loop.kind === "loop" ? "its actions trigger it again" : "too many rules in a chain",
    chain: loop.chain.join(" -> "),
  });
  void env.options.audit({
    action: "automation.loop_detected",
    outcome: "rejected",
    detail: {
      rule: rt.rule.id,
      trigger: rt.triggerText,
      chain: [...loop.chain],
      kind: loop.kind,
    },
  }, { principal: rt.rule.principal, channel: "automation", rules: [...chain] });
  return true;
}

/** Starts a run unless the rule is disabled or in a loop; never waits for it. */
export function fire(
  env: AutomationEnv,
  state: AutomationState,
  ctx: ActorContext,
  rt: RuleRuntime,
  dueAt: number | null,
  chain: readonly string[],
): void {
  if (!rt.enabled) {
    if (dueAt !== null) state.store.consume(rt.rule.id, rt.triggerKey, dueAt);
    return;
  }
  if (refuseLoop(env, rt, chain)) return;
  const firing: Firing = {
    rule: rt.rule,
    trigger: rt.triggerText,
    triggerKey: rt.triggerKey,
    dueAt,
    chain,
  };
  const run = runRule(runnerDeps(env, state, ctx), firing);
  state.runs.add(run);
  void run.finally(() => state.runs.delete(run));
}
