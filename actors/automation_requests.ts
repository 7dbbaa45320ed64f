/**
 * The automation actor's requests: `automation.rules` (list, enable,
 * disable; a principal may enable or disable only a rule whose every
 * command it may send itself) and `automation.scene` (apply a scene as the
 * sender: its own grants decide which targets are refused).
 *
 * @module
 */
import type {
  AuditAppendPayload,
  Message,
  Outcome,
  RuleSummary,
  SceneReport,
  Source,
} from "../broker/messages.ts";
import type { Clock } from "../broker/envelope.ts";
import type { CommandPath } from "../domain/command_path.ts";
import type { PrincipalDeclaration } from "../config/home.ts";
import { isAllowed } from "../domain/grants.ts";
import type { Rule, Scene } from "../domain/automation/rule_schema.ts";
import type { RuleStore } from "../persistence/rule_store.ts";
import { getLogger } from "../observability/logger.ts";
import { applyScene, sceneOutcome } from "./automation_runner.ts";

const log = getLogger("automation");

/** What the actor keeps about one rule. */
export interface RuleRuntime {
  readonly rule: Rule;
  readonly triggerKey: string;
  readonly triggerText: string;
  enabled: boolean;
  /** Scheduled triggers: the next due time. */
  due: number | null;
  /** A held-for trigger waiting: when it fires and the chain that started it. */
  hold: { until: number; chain: readonly string[] } | null;
  lastRunAt: string | null;
  runs: number;
  /** Start of the rate-limit window last audited (one entry per window). */
  rateAuditedAt: number;
}

/** What the requests need from the actor. */
export interface RequestContext {
  readonly rules: ReadonlyMap<string, RuleRuntime>;
  readonly scenes: ReadonlyMap<string, Scene>;
  readonly principals: ReadonlyMap<string, PrincipalDeclaration>;
  readonly store: RuleStore;
  readonly commandPath: CommandPath;
  readonly audit: (entry: AuditAppendPayload, source: Source) => Promise<boolean>;
  readonly clock: Clock;
}

/** Lists rules, or enables or disables one (kept in the database, in effect at once). */
export function rulesRequest(
  ctx: RequestContext,
  message: Message<"automation.rules">,
): Promise<Outcome<readonly RuleSummary[]>> {
  const principalId = message.source.principal;
  const principal = principalId === null ? undefined : ctx.principals.get(principalId);
  const p = message.payload;
  if (principal === undefined) {
    return Promise.resolve({
      ok: false,
      error: { code: "unauthenticated", message: "Log in first" },
    });
  }
  if (p.action === "list") {
    return Promise.resolve({ ok: true, value: [...ctx.rules.values()].map(ruleSummary) });
  }
  const rt = ctx.rules.get(p.rule);
  if (rt === undefined) {
    return Promise.resolve({
      ok: false,
      error: { code: "not_found", message: `No rule named '${p.rule}'` },
    });
  }
  const denied = commandsOf(ctx.scenes, rt.rule).find((c) =>
    !isAllowed(principal, c.device, c.action)
  );
  if (denied) {
    return Promise.resolve({
      ok: false,
      error: {
        code: "forbidden",
        message:
          `${principal.id} may not ${p.action} ${rt.rule.id}: it may not ${denied.action} ${denied.device}`,
      },
    });
  }
  const enable = p.action === "enable";
  ctx.store.setEnabled(
    rt.rule.id,
    enable,
    new Date(ctx.clock.now()).toISOString(),
    principal.id,
  );
  rt.enabled = enable;
  if (!enable) rt.hold = null;
  log.info("Rule {rule} {what} by {who}", {
    rule: rt.rule.id,
    what: p.action + "d",
    who: principal.id,
  });
  return ctx.audit({
    action: enable ? "automation.rule_enabled" : "automation.rule_disabled",
    outcome: "ok",
    detail: { rule: rt.rule.id },
  }, message.source).then(() => ({ ok: true, value: [ruleSummary(rt)] }));
}

/** Applies a scene as the sender: its own grants decide which targets are refused. */
export async function sceneRequest(
  ctx: RequestContext,
  message: Message<"automation.scene">,
): Promise<Outcome<SceneReport>> {
  const principalId = message.source.principal;
  if (principalId === null || !ctx.principals.has(principalId)) {
    return { ok: false, error: { code: "unauthenticated", message: "Log in first" } };
  }
  const id = message.payload.scene;
  const report = await applyScene(
    { commandPath: ctx.commandPath, scenes: ctx.scenes },
    message.source,
    id,
  );
  if (report === undefined) {
    return { ok: false, error: { code: "not_found", message: `No scene named '${id}'` } };
  }
  const outcome = sceneOutcome(id, report);
  await ctx.audit({
    action: "automation.scene",
    outcome: report.refused.length === 0 ? "ok" : "rejected",
    detail: outcome,
  }, message.source);
  return { ok: true, value: report };
}

/** Every device command a rule may send (its own and its scenes'). */
function commandsOf(
  scenes: ReadonlyMap<string, Scene>,
  rule: Rule,
): { device: string; action: string }[] {
  return rule.actions.flatMap((a) =>
    a.kind === "command" ? [a] : a.kind === "scene" ? [...(scenes.get(a.scene)?.targets ?? [])] : []
  );
}

/** A rule as `rules list` shows it. */
export function ruleSummary(rt: RuleRuntime): RuleSummary {
  return {
    id: rt.rule.id,
    name: rt.rule.name ?? rt.rule.id,
    enabled: rt.enabled,
    trigger: rt.triggerText,
    actions: rt.rule.actions.map((a) => {
      switch (a.kind) {
        case "command":
          return [a.device, a.action, ...a.args].join(" ");
        case "scene":
          return `scene ${a.scene}`;
        case "delay":
          return `delay ${a.seconds}s`;
        case "notify":
          return `notify "${a.message}"`;
      }
    }),
    lastRunAt: rt.lastRunAt,
    runs: rt.runs,
  };
}
