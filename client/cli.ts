/**
 * The hub's command-line client. One subcommand per file in `commands/`.
 *
 * Usage: `deno task cli <subcommand> [options]`; `deno task cli help`.
 *
 * @module
 */
import type { CliCommand } from "./commands/command.ts";
import { err, out } from "./commands/command.ts";
import { auditCommand } from "./commands/audit.ts";
import { credentialsCommand } from "./commands/credentials.ts";
import { udpCommand } from "./commands/udp.ts";
import { statusCommand } from "./commands/status.ts";
import { deviceCommand } from "./commands/device.ts";
import { filesCommand } from "./commands/files.ts";
import { backupCommand } from "./commands/backup.ts";
import { loadDotEnv } from "../config/dotenv.ts";
import { rulesCommand } from "./commands/rules.ts";

/** Every subcommand by name. Add a line per new subcommand file. */
export const COMMANDS: Readonly<Record<string, CliCommand>> = {
  audit: auditCommand,
  udp: udpCommand,
  status: statusCommand,
  device: deviceCommand,
  credentials: credentialsCommand,
  files: filesCommand,
  backup: backupCommand,
  rules: rulesCommand,
};

/** Runs the CLI with `args`; returns the exit code. */
export async function runCli(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  const command = name === undefined || !Object.hasOwn(COMMANDS, name) ? undefined : COMMANDS[name];
  if (!command) {
    if (name !== undefined && name !== "help" && name !== "--help") {
      err(`Unknown subcommand: ${name}`);
    }
    out("Usage: deno task cli <subcommand> [options]\n");
    const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
    for (const [key, c] of Object.entries(COMMANDS)) out(`  ${key.padEnd(width)}${c.summary}`);
    out(
      "\nSecrets (tokens, passwords, keys) come from the environment or .env, a file of mode 600, or a prompt: never the command line, which deno task echoes.",
    );
    for (const [key, c] of Object.entries(COMMANDS)) {
      out(`\n${key}:`);
      out(c.usage.split("\n").map((l) => "  " + l).join("\n"));
    }
    return name === undefined || name === "help" || name === "--help" ? 0 : 2;
  }
  return await command.run(rest);
}

/**
 * Reads `.env` as the hub's launcher does (set variables win), so that the CLI sees the
 * same DATA_DIR, ports, HUB_PRINCIPAL and HUB_TOKEN as the hub.
 */
export function loadCliEnvironment(): boolean {
  // Run without read permission (a narrowed `deno run`), there is no .env to read.
  if (Deno.permissions.querySync({ name: "read", path: ".env" }).state !== "granted") return true;
  const loaded = loadDotEnv(".env");
  if (!loaded.ok) {
    err(loaded.error);
    return false;
  }
  for (const warning of loaded.value.warnings) err(`Warning: ${warning}`);
  return true;
}

if (import.meta.main) {
  if (!loadCliEnvironment()) Deno.exit(2);
  Deno.exit(await runCli(Deno.args));
}
