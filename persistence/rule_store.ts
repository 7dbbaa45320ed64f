/**
 * Automation rules in the hub database: their runs, when each last fired,
 * and which are enabled (run-time overrides of the home file).
 *
 * A run is recorded when it starts, in the same transaction that records
 * the rule as fired (and, for time and interval triggers, the due time it
 * fired for). A restart right after a run therefore finds the due time
 * consumed and never fires it again; a run cut short by a crash stays
 * recorded (outcome `interrupted`), so it is not repeated either: at most
 * once.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { transaction } from "./database.ts";

/** How a run ended. */
export type RunOutcome = "running" | "ok" | "partial" | "failed" | "interrupted";

/** What is recorded about a rule having fired. */
export interface FiredRecord {
  /** The trigger as JSON when it last fired: a changed trigger starts afresh. */
  readonly trigger: string;
  /** Scheduled triggers: the last due time fired or consumed (ms), else null. */
  readonly lastDue: number | null;
  /** ISO time the last run started, or null. */
  readonly lastFiredAt: string | null;
}

/** Runs kept per rule; older ones are deleted as new ones finish. */
export const RUNS_KEPT_PER_RULE = 1000;

/** Creates the rule tables when missing. */
export function ensureRuleSchema(db: DatabaseSync): void {
  db.exec(`CREATE TABLE IF NOT EXISTS rule_runs (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    trigger TEXT NOT NULL,
    due_at INTEGER,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT NOT NULL
      CHECK (outcome IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
    detail TEXT
  ) STRICT`);
  db.exec("CREATE INDEX IF NOT EXISTS rule_runs_by_rule ON rule_runs (rule, id)");
  db.exec(`CREATE TABLE IF NOT EXISTS rule_fired (
    rule TEXT PRIMARY KEY,
    trigger TEXT NOT NULL,
    last_due INTEGER,
    last_fired_at TEXT
  ) STRICT`);
  db.exec(`CREATE TABLE IF NOT EXISTS rule_enabled (
    rule TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    changed_at TEXT NOT NULL,
    changed_by TEXT
  ) STRICT`);
}

/** Reads and writes the rule tables. */
export class RuleStore {
  readonly #db: DatabaseSync;
  readonly #insertRun: StatementSync;
  readonly #fired: StatementSync;
  readonly #consume: StatementSync;
  readonly #finish: StatementSync;
  readonly #prune: StatementSync;

  /** @param db an open hub database */
  constructor(db: DatabaseSync) {
    this.#db = db;
    ensureRuleSchema(db);
    this.#insertRun = db.prepare(
      `INSERT INTO rule_runs (rule, trigger, due_at, started_at, outcome) VALUES (?, ?, ?, ?, 'running')`,
    );
    this.#fired = db.prepare(
      `INSERT INTO rule_fired (rule, trigger, last_due, last_fired_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (rule) DO UPDATE SET trigger = excluded.trigger,
       last_due = coalesce(excluded.last_due, rule_fired.last_due), last_fired_at = excluded.last_fired_at`,
    );
    this.#consume = db.prepare(
      `INSERT INTO rule_fired (rule, trigger, last_due, last_fired_at) VALUES (?, ?, ?, NULL)
       ON CONFLICT (rule) DO UPDATE SET trigger = excluded.trigger, last_due = excluded.last_due,
       last_fired_at = CASE WHEN rule_fired.trigger = excluded.trigger
         THEN rule_fired.last_fired_at ELSE NULL END`,
    );
    this.#finish = db.prepare(
      "UPDATE rule_runs SET outcome = ?, detail = ?, finished_at = ? WHERE id = ?",
    );
    this.#prune = db.prepare("DELETE FROM rule_runs WHERE rule = ? AND id <= ?");
  }

  /**
   * Records that `rule` fired (for due time `dueAt`, when scheduled) and that its run started,
   * in one transaction; returns the run's id.
   */
  beginRun(
    rule: string,
    trigger: string,
    dueAt: number | null,
    startedAt: string,
  ): number {
    return transaction(this.#db, () => {
      const run = this.#insertRun.run(rule, trigger, dueAt, startedAt);
      this.#fired.run(rule, trigger, dueAt, startedAt);
      return Number(run.lastInsertRowid);
    });
  }

  /** Records a scheduled due time as passed without a run (missed, disabled, conditions false). */
  consume(rule: string, trigger: string, dueAt: number): void {
    this.#consume.run(rule, trigger, dueAt);
  }

  /** Records how a run ended, and keeps at most {@linkcode RUNS_KEPT_PER_RULE} runs of the rule. */
  finishRun(
    run: number,
    rule: string,
    end: { outcome: RunOutcome; detail: string; finishedAt: string },
  ): void {
    transaction(this.#db, () => {
      this.#finish.run(end.outcome, end.detail, end.finishedAt, run);
      this.#prune.run(rule, run - RUNS_KEPT_PER_RULE);
    });
  }

  /** Runs left `running` by a stop or crash become `interrupted`; answers how many. */
  markInterrupted(at: string): number {
    const result = this.#db.prepare(
      "UPDATE rule_runs SET outcome = 'interrupted', finished_at = ? WHERE outcome = 'running'",
    ).run(at);
    return Number(result.changes);
  }

  /** What is recorded about every rule that fired (or had a due time consumed). */
  loadFired(): Map<string, FiredRecord> {
    const rows = this.#db.prepare(
      "SELECT rule, trigger, last_due, last_fired_at FROM rule_fired",
    ).all() as {
      rule: string;
      trigger: string;
      last_due: number | null;
      last_fired_at: string | null;
    }[];
    return new Map(rows.map((r) => [r.rule, {
      trigger: r.trigger,
      lastDue: r.last_due,
      lastFiredAt: r.last_fired_at,
    }]));
  }

  /** Number of recorded runs per rule. */
  runCounts(): Map<string, number> {
    const rows = this.#db.prepare("SELECT rule, count(*) AS n FROM rule_runs GROUP BY rule")
      .all() as { rule: string; n: number }[];
    return new Map(rows.map((r) => [r.rule, Number(r.n)]));
  }

  /** Run-time enabled/disabled overrides by rule. */
  loadEnabled(): Map<string, boolean> {
    const rows = this.#db.prepare("SELECT rule, enabled FROM rule_enabled").all() as {
      rule: string;
      enabled: number;
    }[];
    return new Map(rows.map((r) => [r.rule, r.enabled === 1]));
  }

  /** Enables or disables a rule (kept across restarts). */
  setEnabled(rule: string, enabled: boolean, at: string, by: string | null): void {
    this.#db.prepare(
      `INSERT INTO rule_enabled (rule, enabled, changed_at, changed_by) VALUES (?, ?, ?, ?)
       ON CONFLICT (rule) DO UPDATE SET enabled = excluded.enabled,
       changed_at = excluded.changed_at, changed_by = excluded.changed_by`,
    ).run(rule, enabled ? 1 : 0, at, by);
  }
}
