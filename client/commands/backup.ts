/**
 * `cli backup <file>`: a consistent copy of the hub's database, safe while
 * the hub runs. It uses SQLite's online backup (`node:sqlite` `backup()`),
 * in one step, inside one read transaction: the copy is the database as of
 * one moment, with the WAL's committed pages in it (a file copy of a WAL
 * database can miss them or tear). The copy is written under a temporary
 * name, checked (`PRAGMA integrity_check` and the audit hash chain), then
 * renamed; it is readable by its owner only (it holds hashed secrets and UDP
 * keys).
 *
 * @module
 */
import { backup, DatabaseSync } from "node:sqlite";
import { dirname, resolve } from "node:path";
import { verifyAuditChain } from "../../persistence/audit_store.ts";
import { formatBytes } from "../progress_bar.ts";
import {
  type CliCommand,
  databasePath,
  err,
  openExistingDatabase,
  out,
  parseOptions,
} from "./command.ts";

const USAGE = `backup <file> [--force]        consistent copy of the database, while the hub runs
Options: --data-dir DIR (default $DATA_DIR or ./data)  --force (replace an existing file)
Restore: stop the hub, copy the file to DATA_DIR/hub.db, delete hub.db-wal and hub.db-shm, start.`;

/** Pages copied per step: all at once, so the copy is one snapshot and never restarts. */
const ALL_PAGES = 2_147_483_647;

/** The `backup` subcommand. */
export const backupCommand: CliCommand = {
  summary: "Copy the database consistently while the hub runs (SQLite online backup)",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, {
      "data-dir": { type: "string" },
      force: { type: "boolean", default: false },
    }, USAGE);
    if (!parsed) return 2;
    const [target, ...extra] = parsed.positionals;
    if (target === undefined || extra.length > 0) {
      err(USAGE);
      return 2;
    }
    const file = resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), target);
    if (!parsed.values.force && await exists(file)) {
      err(`${file} exists: choose another name or add --force`);
      return 2;
    }
    const source = databasePath(parsed.values["data-dir"]);
    const db = openExistingDatabase(source);
    if (!db) return 2;
    const partial = `${file}.partial-${Deno.pid}`;
    try {
      await Deno.mkdir(dirname(file), { recursive: true });
      // Created first with mode 600, so the copy is never readable by others, not even briefly.
      Deno.writeFileSync(partial, new Uint8Array(), { mode: 0o600 });
      await backup(db, partial, { rate: ALL_PAGES });
    } catch (error) {
      await Deno.remove(partial).catch(() => {});
      err(`Backup failed: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    } finally {
      db.close();
    }
    const problem = checkCopy(partial);
    if (problem) {
      await Deno.remove(partial).catch(() => {});
      err(`Backup failed its check, nothing written: ${problem}`);
      return 1;
    }
    await Deno.rename(partial, file);
    const size = (await Deno.stat(file)).size;
    out(
      `Backed up ${source} to ${file} (${formatBytes(size)}); integrity and audit chain verified`,
    );
    return 0;
  },
};

/** Why the copy at `path` is not a sound hub database, or undefined when it is. */
export function checkCopy(path: string): string | undefined {
  const copy = new DatabaseSync(path, { readOnly: true });
  try {
    const integrity = copy.prepare("PRAGMA integrity_check").get() as Record<string, unknown>;
    const verdict = String(Object.values(integrity)[0]);
    if (verdict !== "ok") return `integrity check: ${verdict}`;
    const chain = verifyAuditChain(copy);
    if (!chain.ok) return `audit chain: entry ${chain.seq}: ${chain.reason}`;
    return undefined;
  } finally {
    copy.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
