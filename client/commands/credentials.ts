/**
 * `cli credentials list|set`: manages principals' credentials in the
 * database. `set` generates a new secret (or takes one with `--secret`),
 * prints it once, and stores only its scrypt hash (UDP keys as they are,
 * because HMAC needs them). A running hub picks up the change after SIGHUP
 * or a restart.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { openDatabase } from "../../persistence/database.ts";
import { type CredentialKind, setCredential } from "../../persistence/credential_store.ts";
import { generateSecret } from "../../persistence/secrets.ts";
import {
  type CliCommand,
  databasePath,
  err,
  openExistingDatabase,
  out,
  parseOptions,
} from "./command.ts";

const KINDS: readonly CredentialKind[] = ["token", "password", "udp_key"];

const USAGE = `credentials list
credentials set <principal> token|password|udp_key [--secret S]   (new random secret when --secret is absent)
Options: --data-dir DIR (default $DATA_DIR or ./data)`;

/** The `credentials` subcommand. */
export const credentialsCommand: CliCommand = {
  summary: "List which credentials exist, or set a new token, password or UDP key",
  usage: USAGE,
  run(args) {
    const parsed = parseOptions(args, {
      secret: { type: "string" },
      "data-dir": { type: "string" },
    }, USAGE);
    if (!parsed) return Promise.resolve(2);
    const { values, positionals } = parsed;
    const path = databasePath(values["data-dir"]);
    const [verb, principal, kind] = positionals;
    if (verb === "list") return Promise.resolve(list(path));
    if (verb !== "set" || !principal || !KINDS.includes(kind as CredentialKind)) {
      err(USAGE);
      return Promise.resolve(2);
    }
    if (
      values.secret !== undefined && kind === "udp_key" && !/^[0-9a-f]{64}$/i.test(values.secret)
    ) {
      err("A UDP key is 64 hex digits (32 bytes)");
      return Promise.resolve(2);
    }
    const secret = values.secret ??
      (kind === "udp_key" ? randomBytes(32).toString("hex") : generateSecret());
    const db = openDatabase(path);
    try {
      setCredential(db, principal, kind as CredentialKind, secret);
    } finally {
      db.close();
    }
    if (values.secret === undefined) out(secret);
    err(
      `Stored the ${kind} of ${principal} in ${path}; send SIGHUP to a running hub (or restart it)`,
    );
    return Promise.resolve(0);
  },
};

function list(path: string): number {
  const db = openExistingDatabase(path);
  if (!db) return 2;
  try {
    const exists = db.prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'credentials'",
    ).get();
    if (!exists) return 0;
    const rows = db.prepare(
      "SELECT principal, kind, created_at FROM credentials ORDER BY principal, kind",
    )
      .all() as { principal: string; kind: string; created_at: string }[];
    for (const row of rows) {
      out(`${row.principal.padEnd(16)} ${row.kind.padEnd(9)} set ${row.created_at}`);
    }
    return 0;
  } finally {
    db.close();
  }
}
