/**
 * The automation actor's start: rules loaded with what the database kept
 * (enabled or not, run counts, last due times), runs cut short by the last
 * stop marked, and scheduled triggers missed while the hub was down either
 * caught up once (within the grace window) or consumed.
 *
 * @module
 */
import type { Rule } from "../domain/automation/rule_schema.ts";
import { describeTrigger, isScheduled, scheduleAtStart } from "../domain/automation/triggers.ts";
import type { RuleStore } from "../persistence/rule_store.ts";
import { getLogger } from "../observability/logger.ts";
import type { RuleRuntime } from "./automation_requests.ts";

const log = getLogger("automation");

/** A scheduled trigger missed while the hub was down, to run once now. */
export interface CatchUp {
  readonly rt: RuleRuntime;
  readonly due: number;
}

/** Timing the start needs. */
export interface StartTiming {
  readonly nowMs: number;
  readonly timeZone: string;
  readonly graceMs: number;
}

/** Marks runs the last stop cut short as interrupted (logged when there were any). */
export function markInterrupted(store: RuleStore, nowMs: number): void {
  const interrupted = store.markInterrupted(new Date(nowMs).toISOString());
  if (interrupted > 0) {
    log.warn("{n} rule runs were cut short by the last stop", { n: interrupted });
  }
}

/** Each rule's runtime from the database's records, and the catch-ups due now. */
export function loadRules(
  store: RuleStore,
  declared: readonly Rule[],
  timing: StartTiming,
): { rules: Map<string, RuleRuntime>; catchUps: CatchUp[] } {
  const fired = store.loadFired();
  const enabled = store.loadEnabled();
  const counts = store.runCounts();
  const rules = new Map<string, RuleRuntime>();
  const catchUps: CatchUp[] = [];
  for (const rule of declared) {
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
      const start = scheduleAtStart(rule.trigger, lastDue, timing);
      rt.due = start.next;
      if (start.catchUp !== null) catchUps.push({ rt, due: start.catchUp });
      else if (lastDue === undefined || start.consumed !== lastDue) {
        store.consume(rule.id, triggerKey, start.consumed);
      }
    }
    rules.set(rule.id, rt);
  }
  return { rules, catchUps };
}

/** Logs a catch-up about to run. */
export function logCatchUp({ rt, due }: CatchUp): void {
  log.info("Rule {rule} was due at {due} while the hub was down: running it once now", {
    rule: rt.rule.id,
    due: new Date(due).toISOString(),
  });
}
