/**
 * `cli audit tail|verify`: reads the audit log straight from the database
 * file (read-only), so it works while the hub runs and when it is stopped.
 *
 * @module
 */
import { type AuditEntry, queryAudit, verifyAuditChain } from "../../persistence/audit_store.ts";
import {
  type CliCommand,
  databasePath,
  err,
  openExistingDatabase,
  out,
  parseOptions,
} from "./command.ts";

const USAGE =
  `audit tail [--device ID] [--principal ID] [--since ISO] [--until ISO] [-n N] [--follow] [--json]
audit verify
Options: --data-dir DIR (default $DATA_DIR or ./data)`;

/** The `audit` subcommand. */
export const auditCommand: CliCommand = {
  summary: "Show or verify the audit log",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, {
      device: { type: "string" },
      principal: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      n: { type: "string", short: "n", default: "20" },
      follow: { type: "boolean", short: "f", default: false },
      json: { type: "boolean", default: false },
      "data-dir": { type: "string" },
    }, USAGE);
    if (!parsed) return 2;
    const { values, positionals } = parsed;
    const db = openExistingDatabase(databasePath(values["data-dir"]));
    if (!db) return 2;
    try {
      if (positionals[0] === "verify") {
        const verdict = verifyAuditChain(db);
        if (verdict.ok) {
          out(`Audit chain verified: ${verdict.entries} entries, last seq ${verdict.lastSeq}`);
          return 0;
        }
        out(
          `Audit chain BROKEN at entry ${verdict.seq}: ${verdict.reason} (${verdict.checked} entries verified before it)`,
        );
        return 1;
      }
      if (positionals[0] !== "tail") {
        err(USAGE);
        return 2;
      }
      const limit = Number(values.n);
      if (!Number.isInteger(limit) || limit < 1) {
        err(`-n must be a positive whole number, got ${values.n}`);
        return 2;
      }
      const filter = {
        ...(values.device === undefined ? {} : { device: values.device }),
        ...(values.principal === undefined ? {} : { principal: values.principal }),
        ...(values.since === undefined ? {} : { since: values.since }),
        ...(values.until === undefined ? {} : { until: values.until }),
      };
      let last = 0;
      const show = (entries: AuditEntry[]) => {
        for (const e of entries) {
          out(values.json ? JSON.stringify(asJson(e)) : formatEntry(e));
          last = e.seq;
        }
      };
      show(queryAudit(db, { ...filter, limit }));
      while (values.follow) {
        await new Promise((r) => setTimeout(r, 500));
        show(queryAudit(db, { ...filter, afterSeq: last, limit: 1000 }));
      }
      return 0;
    } finally {
      db.close();
    }
  },
};

/** One readable line per entry. */
export function formatEntry(e: AuditEntry): string {
  const who = e.principal ?? "-";
  const what = e.device ? `${e.action} ${e.device}` : e.action;
  const code = e.code ? ` (${e.code})` : "";
  const detail = e.detail ? ` ${e.detail}` : "";
  return `#${e.seq} ${e.at} ${e.channel}:${who} ${what} ${e.outcome}${code}${detail}`;
}

/** An entry for `--json`: its `detail` as the JSON object it holds, not as a string of JSON. */
function asJson(entry: AuditEntry): Record<string, unknown> {
  let detail: unknown = entry.detail;
  if (entry.detail !== null) {
    try {
      detail = JSON.parse(entry.detail);
    } catch {
      // Kept as text.
    }
  }
  return { ...entry, detail };
}
