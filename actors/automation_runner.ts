/**
 * One run of an automation rule: checks its conditions, takes its rate
 * limit, records the run (with the due time it fires for) in the database,
 * runs its actions in order through the one command path as the rule's
 * principal, records how it ended and audits it with the rule id, the
 * trigger and each action's outcome.
 *
 * A refused action does not stop the run: the next actions still run, and
 * the run's outcome says `partial` (or `failed` when nothing succeeded).
 *
 * @module
 */
import type {
  AuditAppendPayload,
  DeviceState,
  Json,
  Message,
  Refusal,
  SceneReport,
  Source,
} from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";
import type { Clock } from "../broker/envelope.ts";
import type { CommandPath } from "../domain/command_path.ts";
import type { DeviceDeclaration } from "../config/home.ts";
import type { Rule, RuleAction, Scene } from "../domain/automation/rule_schema.ts";
import { failedCondition } from "../domain/automation/conditions.ts";
import type { RuleRateLimit } from "../domain/automation/safety.ts";
import type { RuleStore, RunOutcome } from "../persistence/rule_store.ts";
import { getLogger } from "../observability/logger.ts";

const log = getLogger("automation");

/** Why and how a rule fires. */
export interface Firing {
  readonly rule: Rule;
  /** Short text of the trigger (`button hall-button`, `time 22:30`). */
  readonly trigger: string;
  /** The trigger as JSON, recorded with the run. */
  readonly triggerKey: string;
  /** Scheduled triggers: the due time this run fires for. */
  readonly dueAt: number | null;
  /** Rules whose runs led here (see `Source.rules`), without this one. */
  readonly chain: readonly string[];
}

/** The outcome of one action, as recorded and audited. */
export type ActionOutcome = { readonly [key: string]: Json };

/** What a run needs from the actor. */
export interface RunnerDeps {
  readonly commandPath: CommandPath;
  readonly store: RuleStore;
  readonly clock: Clock;
  readonly timeZone: string;
  readonly devices: ReadonlyMap<string, DeviceDeclaration>;
  readonly scenes: ReadonlyMap<string, Scene>;
  readonly rate: RuleRateLimit;
  /** Appends an audit entry through the audit actor; resolves once recorded (false: not). */
  audit(entry: AuditAppendPayload, source: Source): Promise<boolean>;
  /** Publishes a notification line to subscribers. */
  publish(message: Message): boolean;
  /** Waits until the clock reaches `atMs`; false when the actor stops first. */
  sleepUntil(atMs: number): Promise<boolean>;
  /** Called when a run was recorded (for listings). */
  onRecorded(rule: string, at: string): void;
  /** Called once per rate-limit window when a rule is over its limit. */
  onRateLimited(rule: Rule, firing: Firing): void;
}

/** The source of everything a rule's run sends. */
export function runSource(firing: Firing): Source {
  return {
    principal: firing.rule.principal,
    channel: "automation",
    rules: [...firing.chain, firing.rule.id],
  };
}

/**
 * Runs one firing to its end; never throws.
 *
 * @returns the run's outcome, or `skipped` (conditions false) or `rate_limited`
 */
export async function runRule(
  deps: RunnerDeps,
  firing: Firing,
): Promise<RunOutcome | "skipped" | "rate_limited"> {
  const { rule } = firing;
  const source = runSource(firing);
  try {
    if (rule.conditions.length > 0) {
      const failed = await checkConditions(deps, rule, source);
      if (failed !== undefined) {
        log.debug("Rule {rule} not run: {failed} does not hold", { rule: rule.id, failed });
        if (firing.dueAt !== null) deps.store.consume(rule.id, firing.triggerKey, firing.dueAt);
        return "skipped";
      }
    }
    if (!deps.rate.take(rule.id, rule.rateLimit, deps.clock.now())) {
      if (firing.dueAt !== null) deps.store.consume(rule.id, firing.triggerKey, firing.dueAt);
      deps.onRateLimited(rule, firing);
      return "rate_limited";
    }
    const startedAt = new Date(deps.clock.now()).toISOString();
    const run = deps.store.beginRun(rule.id, firing.triggerKey, firing.dueAt, startedAt);
    deps.onRecorded(rule.id, startedAt);
    const outcomes: ActionOutcome[] = [];
    let interrupted = false;
    for (const action of rule.actions) {
      const done = await runAction(deps, source, action);
      if (done === "stopped") {
        interrupted = true;
        break;
      }
      outcomes.push(done);
    }
    const outcome = interrupted ? "interrupted" : summarise(outcomes);
    const detail: { [key: string]: Json } = {
      rule: rule.id,
      trigger: firing.trigger,
      ...(firing.dueAt !== null ? { dueAt: new Date(firing.dueAt).toISOString() } : {}),
      ...(firing.chain.length ? { chain: [...firing.chain] } : {}),
      run: outcome,
      actions: outcomes,
    };
    deps.store.finishRun(run, rule.id, {
      outcome,
      detail: JSON.stringify(detail),
      finishedAt: new Date(deps.clock.now()).toISOString(),
    });
    await deps.audit({
      action: "automation.run",
      outcome: outcome === "ok" ? "ok" : outcome === "partial" ? "rejected" : "failed",
      detail,
    }, source);
    log.info("Rule {rule} ran ({trigger}): {outcome}", {
      rule: rule.id,
      trigger: firing.trigger,
      outcome,
    });
    return outcome;
  } catch (error) {
    // The database closed under a stopping hub, most likely: nothing more to record.
    log.warn("Rule {rule} run ended early: {error}", { rule: rule.id, error: String(error) });
    return "interrupted";
  }
}

function summarise(outcomes: readonly ActionOutcome[]): RunOutcome {
  const failed = outcomes.filter((o) => o.ok === false);
  if (failed.length === 0) return "ok";
  // A scene where some devices reached their target is part success.
  const someReached = failed.some((o) => Array.isArray(o.reached) && o.reached.length > 0);
  return failed.length === outcomes.length && !someReached ? "failed" : "partial";
}

/** The first condition that does not hold, or undefined. */
async function checkConditions(
  deps: RunnerDeps,
  rule: Rule,
  source: Source,
): Promise<string | undefined> {
  const devices = new Map<string, { decl: DeviceDeclaration; state: DeviceState }>();
  if (rule.conditions.some((c) => c.kind === "state")) {
    const queried = await deps.commandPath.run(source, "device.query", { device: null });
    if (!queried.ok) return `device states unavailable (${queried.error.code})`;
    for (const snapshot of queried.value) {
      const decl = deps.devices.get(snapshot.id);
      if (decl) devices.set(snapshot.id, { decl, state: snapshot.state });
    }
  }
  return failedCondition(rule.conditions, {
    devices,
    nowMs: deps.clock.now(),
    timeZone: deps.timeZone,
  });
}

async function runAction(
  deps: RunnerDeps,
  source: Source,
  action: RuleAction,
): Promise<ActionOutcome | "stopped"> {
  switch (action.kind) {
    case "command": {
      const outcome = await deps.commandPath.run(source, "device.command", {
        device: action.device,
        action: action.action,
        args: action.args,
      });
      const command = [action.device, action.action, ...action.args].join(" ");
      return outcome.ok ? { kind: "command", command, ok: true } : {
        kind: "command",
        command,
        ok: false,
        code: outcome.error.code,
        message: outcome.error.message,
      };
    }
    case "scene":
      return sceneOutcome(action.scene, await applyScene(deps, source, action.scene));
    case "delay": {
      const woke = await deps.sleepUntil(deps.clock.now() + action.seconds * 1000);
      return woke ? { kind: "delay", seconds: action.seconds, ok: true } : "stopped";
    }
    case "notify": {
      const rule = source.rules?.at(-1) ?? "";
      const sent = deps.publish(
        createMessage("automation.notification", { rule, message: action.message }, source, {
          clock: deps.clock,
        }),
      );
      return { kind: "notify", message: action.message, ok: sent };
    }
  }
}

/**
 * Applies a scene: every target command at once, through the command path, as `source`.
 *
 * @returns which devices reached their target and which refused (with the refusal), or
 *   undefined when there is no such scene
 */
export async function applyScene(
  deps: Pick<RunnerDeps, "commandPath" | "scenes">,
  source: Source,
  sceneId: string,
): Promise<SceneReport | undefined> {
  const scene = deps.scenes.get(sceneId);
  if (scene === undefined) return undefined;
  const results = await Promise.all(
    scene.targets.map((t) =>
      deps.commandPath.run(source, "device.command", {
        device: t.device,
        action: t.action,
        args: t.args,
      })
    ),
  );
  const reached: string[] = [];
  const refused: { device: string; error: Refusal }[] = [];
  results.forEach((r, i) => {
    const target = scene.targets[i]!;
    if (r.ok) reached.push(target.device);
    else refused.push({ device: target.device, error: r.error });
  });
  return { scene: sceneId, reached, refused };
}

/** A scene report as an action outcome (audit detail). */
export function sceneOutcome(sceneId: string, report: SceneReport | undefined): ActionOutcome {
  if (report === undefined) {
    return {
      kind: "scene",
      scene: sceneId,
      ok: false,
      code: "not_found",
      reached: [],
      refused: [],
    };
  }
  return {
    kind: "scene",
    scene: sceneId,
    ok: report.refused.length === 0,
    reached: [...report.reached],
    refused: report.refused.map((r) => ({
      device: r.device,
      code: r.error.code,
      message: r.error.message,
    })),
  };
}
