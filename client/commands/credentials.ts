/**
 * `cli credentials list|set`: manages principals' credentials in the
 * database. `set` generates a new secret (or takes one with `--secret`),
 * prints it once, and stores only its scrypt hash (UDP keys as they are,
 * because HMAC needs them). The principal must be in the home file and use
 * the channel the credential is for. A new token or password works at once
 * on a running hub (and the old one stops working); a new UDP key after
 * SIGHUP, because the UDP channel keeps keys in memory.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { openDatabase } from "../../persistence/database.ts";
import { type CredentialKind, setCredential } from "../../persistence/credential_store.ts";
import { generateSecret } from "../../persistence/secrets.ts";
import { loadConfig, readEnv } from "../../config/config.ts";
import { readSecretFile } from "../secret_input.ts";
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
credentials set <principal> token|password|udp_key [--secret-file FILE]
    a new random secret unless --secret-file (mode 600) gives one; printed once on stdout
Options: --data-dir DIR (default $DATA_DIR or ./data)`;

/** The channel each kind of credential is used on. */
const CHANNEL: Record<CredentialKind, "tls" | "ftp" | "udp"> = {
  token: "tls",
  password: "ftp",
  udp_key: "udp",
};

/** Shortest token or password accepted (a generated one has 32 characters). */
const MIN_SECRET_LENGTH = 12;

/** The `credentials` subcommand. */
export const credentialsCommand: CliCommand = {
  summary: "List which credentials exist, or set a new token, password or UDP key",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, {
      secret: { type: "string" },
      "secret-file": { type: "string" },
      "data-dir": { type: "string" },
    }, USAGE);
    if (!parsed) return 2;
    const { values, positionals } = parsed;
    const path = databasePath(values["data-dir"]);
    const [verb, principal, kind] = positionals;
    if (verb === "list") return list(path);
    if (verb !== "set" || !principal || !KINDS.includes(kind as CredentialKind)) {
      err(USAGE);
      return 2;
    }
    return await set(path, principal, kind as CredentialKind, values);
  },
};

async function set(
  path: string,
  principal: string,
  kind: CredentialKind,
  values: { secret?: string | undefined; "secret-file"?: string | undefined },
): Promise<number> {
  const problem = principalProblem(principal, kind);
  if (problem) {
    err(problem);
    return 2;
  }
  let given = values.secret;
  if (values["secret-file"] !== undefined) {
    const read = await readSecretFile(values["secret-file"], "secret");
    if (!read.ok) {
      err(read.error);
      return 2;
    }
    given = read.value;
  } else if (given !== undefined) {
    err(
      "Warning: --secret on the command line is echoed by deno task and visible in ps: prefer --secret-file",
    );
  }
  if (given !== undefined && kind === "udp_key" && !/^[0-9a-f]{64}$/i.test(given)) {
    err("A UDP key is 64 hex digits (32 bytes)");
    return 2;
  }
  if (given !== undefined && kind !== "udp_key" && given.length < MIN_SECRET_LENGTH) {
    err(
      `A ${kind} must have at least ${MIN_SECRET_LENGTH} characters (leave --secret-file out to generate one)`,
    );
    return 2;
  }
  const secret = given ?? (kind === "udp_key" ? randomBytes(32).toString("hex") : generateSecret());
  const db = openDatabase(path);
  try {
    setCredential(db, principal, kind, secret);
  } finally {
    db.close();
  }
  if (given === undefined) out(secret);
  err(
    kind === "udp_key"
      ? `Stored the udp_key of ${principal} in ${path}; a running hub uses it after SIGHUP (or a restart)`
      : `Stored the ${kind} of ${principal} in ${path}; it works at once, and the old one no longer does`,
  );
  return 0;
}

/** Why `principal` cannot have a `kind` credential in the configured home, if it cannot. */
function principalProblem(principal: string, kind: CredentialKind): string | undefined {
  const loaded = loadConfig(readEnv());
  if (!loaded.ok) return `Cannot read the hub's configuration: ${loaded.error.message}`;
  const { home, settings, paths } = loaded.value;
  if (kind === "password" && principal === settings.FTP_USERNAME) return undefined;
  const declared = home.principals.find((p) => p.id === principal);
  if (!declared) {
    return `${principal} is not a principal of ${paths.homeConfig}: add it there first ` +
      `(known: ${home.principals.map((p) => p.id).join(", ")})`;
  }
  const channel = CHANNEL[kind];
  if (!declared.channels.includes(channel)) {
    return `${principal} may not use ${channel} (its channels: ${declared.channels.join(", ")}), ` +
      `so a ${kind} would never be used: add "${channel}" to its channels, or set a ` +
      `${
        Object.entries(CHANNEL).filter(([, c]) => declared.channels.includes(c)).map(([k]) => k)
          .join(" or ")
      }`;
  }
  return undefined;
}

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
