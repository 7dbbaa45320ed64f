/**
 * Audit retention as the hub runs it: the rules from the settings
 * (`AUDIT_RETENTION_DAYS`, `AUDIT_RETENTION_MB`, `AUDIT_RETENTION_ENTRIES`),
 * the start-up line that says them, and the hourly service that applies them
 * (also applied once at start, in `hub.ts`).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Settings } from "./config/settings.ts";
import { applyAuditRetention, type AuditRetention } from "./persistence/audit_store.ts";
import { getLogger } from "./observability/logger.ts";

const log = getLogger("hub");

/** How often audit retention runs while the hub is up. */
export const AUDIT_RETENTION_INTERVAL_MS = 3_600_000;

/** The retention rules of `settings`. */
export function auditRetentionOf(settings: Settings): AuditRetention {
  return {
    maxAgeDays: settings.AUDIT_RETENTION_DAYS,
    maxEntries: settings.AUDIT_RETENTION_ENTRIES,
    maxBytes: settings.AUDIT_RETENTION_MB * 1024 * 1024,
  };
}

/** The start-up line that says how long audit entries are kept. */
export function describeAuditRetention(settings: Settings): string {
  const rules: string[] = [];
  if (settings.AUDIT_RETENTION_DAYS > 0) {
    rules.push(`entries older than ${settings.AUDIT_RETENTION_DAYS} days are deleted`);
  }
  if (settings.AUDIT_RETENTION_MB > 0) {
    rules.push(`the oldest go when the database passes ${settings.AUDIT_RETENTION_MB} MiB`);
  }
  if (settings.AUDIT_RETENTION_ENTRIES > 0) {
    rules.push(`at most ${settings.AUDIT_RETENTION_ENTRIES} entries are kept`);
  }
  const what = rules.length ? rules.join("; ") : "every entry is kept for good";
  return `Audit log retention: ${what} (AUDIT_RETENTION_DAYS, AUDIT_RETENTION_MB, ` +
    `AUDIT_RETENTION_ENTRIES)`;
}

/** Applies the rules every {@linkcode AUDIT_RETENTION_INTERVAL_MS}; `close()` stops it. */
export function startAuditRetention(db: DatabaseSync, settings: Settings): { close(): void } {
  const timer = setInterval(() => {
    try {
      const removed = applyAuditRetention(db, auditRetentionOf(settings));
      if (removed > 0) log.info("Audit retention removed {removed} entries", { removed });
    } catch (error) {
      log.error("Audit retention failed, tried again in an hour: {error}", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }, AUDIT_RETENTION_INTERVAL_MS);
  return { close: () => clearInterval(timer) };
}
